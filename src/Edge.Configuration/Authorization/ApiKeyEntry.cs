namespace Edge.Configuration.Authorization;

/// <summary>An API key known by its SHA-256 hash only, mapped to a principal, a tenant and roles.</summary>
public sealed record ApiKeyEntry
{
    /// <summary>Lowercase or uppercase hex SHA-256 of the key's UTF-8 bytes (64 characters).</summary>
    public string Sha256 { get; init; } = "";

    public string Principal { get; init; } = "";

    /// <summary>The tenant the key is bound to; a request naming another tenant is refused with <c>tenant_mismatch</c>.</summary>
    public string? Tenant { get; init; }

    public IReadOnlyList<string> Roles { get; init; } = [];
}
