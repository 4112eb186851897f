namespace Edge.Proxy.Pipeline;

/// <summary>
/// The headers that tell a backend who the client is. Only the edge sets them; a client's copies are kept only when
/// its connection comes from <c>Edge:TrustedProxies</c>. Names are compared with '_' and '-' as equal, because CGI-style
/// backends and some nginx setups read <c>X_Forwarded_For</c> as <c>X-Forwarded-For</c>.
/// </summary>
internal static class ForwardingHeaders
{
    public const string XForwardedFor = "X-Forwarded-For";
    public const string XForwardedProto = "X-Forwarded-Proto";
    public const string XForwardedHost = "X-Forwarded-Host";
    public const string XForwardedPrefix = "X-Forwarded-Prefix";
    public const string XRealIp = "X-Real-IP";
    public const string Forwarded = "Forwarded";

    private const string XForwardedPrefixFamily = "X-Forwarded-";

    /// <summary>X-Forwarded-* (any), Forwarded and X-Real-IP, in either spelling.</summary>
    public static bool IsForwardingHeader(string name) =>
        HeaderName.StartsWith(name, XForwardedPrefixFamily) || HeaderName.EqualsName(name, Forwarded) || HeaderName.EqualsName(name, XRealIp);
}
