namespace Edge.Configuration.Tenancy;

/// <summary>Where the tenant of a request comes from.</summary>
internal enum TenantSource
{
    Header,
    Host,
    Path,
    Claim,
    Static,
}
