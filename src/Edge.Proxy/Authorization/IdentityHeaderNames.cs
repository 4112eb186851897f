using Edge.Proxy.Configuration;

namespace Edge.Proxy.Authorization;

/// <summary>The identity headers the edge sets, under the identity prefix so client-sent copies are always removed.</summary>
internal sealed class IdentityHeaderNames(EdgeHostOptions host)
{
    public string Principal { get; } = host.IdentityHeaderPrefix + "Principal";

    public string Roles { get; } = host.IdentityHeaderPrefix + "Roles";

    public string Timestamp { get; } = host.IdentityHeaderPrefix + "Timestamp";

    public string Signature { get; } = host.IdentityHeaderPrefix + "Signature";
}
