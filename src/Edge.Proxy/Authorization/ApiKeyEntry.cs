namespace Edge.Proxy.Authorization;

/// <summary>An API key known by its SHA-256 hash only, mapped to a principal, a tenant and roles.</summary>
public sealed record ApiKeyEntry
{
    public string Sha256 { get; init; } = "";

    public string Principal { get; init; } = "";

    public string? Tenant { get; init; }

    public IReadOnlyList<string> Roles { get; init; } = [];
}
