namespace Edge.Proxy.Authorization;

/// <summary>A named authentication scheme (<c>Edge:Authentication:{name}</c> in proxy.json).</summary>
public sealed record AuthenticationPolicyOptions
{
    public string Type { get; init; } = "";

    public string? Issuer { get; init; }

    public string? Audience { get; init; }

    public string? JwksUrl { get; init; }

    public string? Authority { get; init; }

    public string? SigningKey { get; init; }

    public IReadOnlyList<string> Algorithms { get; init; } = [];

    public string RoleClaim { get; init; } = "roles";

    public string TenantClaim { get; init; } = "tenant_id";

    public string Header { get; init; } = "X-Api-Key";

    public IReadOnlyList<ApiKeyEntry> Keys { get; init; } = [];
}
