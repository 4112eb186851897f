namespace Edge.Proxy.Tenancy;

/// <summary>Where the tenant of a request comes from.</summary>
public enum TenantSource
{
    Header,
    Host,
    Path,
    Claim,
    Static,
}
