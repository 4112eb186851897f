namespace Edge.Configuration.Authorization;

/// <summary>
/// A named authentication scheme (<c>Edge:Authentication:{name}</c> in proxy.json). <see cref="Type"/> selects
/// <c>Jwt</c> (bearer tokens) or <c>ApiKey</c> (a key in a header, known to the edge by its SHA-256 hash only).
/// </summary>
public sealed record AuthenticationPolicyOptions
{
    /// <summary><c>Jwt</c> or <c>ApiKey</c>.</summary>
    public string Type { get; init; } = "";

    /// <summary>Jwt: the required <c>iss</c>. Optional with <see cref="Authority"/> (then the discovery document's issuer).</summary>
    public string? Issuer { get; init; }

    /// <summary>Jwt: the required <c>aud</c>.</summary>
    public string? Audience { get; init; }

    /// <summary>Jwt: a JWKS document with the RS/ES/PS verification keys; fetched, cached and refreshed.</summary>
    public string? JwksUrl { get; init; }

    /// <summary>Jwt: an OpenID Connect issuer; its <c>/.well-known/openid-configuration</c> names the JWKS.</summary>
    public string? Authority { get; init; }

    /// <summary>Jwt HS*: secret reference (<c>env:NAME</c> or <c>file:/path</c>) whose UTF-8 bytes (at least 32) are the HMAC key.</summary>
    public string? SigningKey { get; init; }

    /// <summary>
    /// Jwt: the accepted <c>alg</c> values. Defaults to <c>HS256</c> with <see cref="SigningKey"/>, else <c>RS256, ES256</c>.
    /// Symmetric and asymmetric algorithms never mix in one policy (algorithm confusion); <c>none</c> is never accepted.
    /// </summary>
    public IReadOnlyList<string> Algorithms { get; init; } = [];

    /// <summary>Jwt: tolerance for <c>exp</c> and <c>nbf</c>. At most five minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Jwt: the claim naming the principal.</summary>
    public string PrincipalClaim { get; init; } = "sub";

    /// <summary>Jwt: the claim holding role names (a string or an array). ApiKey: the claim type the entry's roles get.</summary>
    public string RoleClaim { get; init; } = "roles";

    /// <summary>Jwt: the claim holding the tenant. ApiKey: the claim type the entry's tenant gets.</summary>
    public string TenantClaim { get; init; } = "tenant_id";

    /// <summary>Jwt: refuse metadata (JWKS, discovery) over plain http. Only for loopback test identity providers.</summary>
    public bool RequireHttpsMetadata { get; init; } = true;

    /// <summary>Jwt: how often cached keys are re-fetched (at least five minutes). An unknown <c>kid</c> also triggers a fetch.</summary>
    public TimeSpan KeyRefreshInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Jwt: minimum time between fetches triggered by unknown <c>kid</c>s (at least one second).</summary>
    public TimeSpan KeyRefreshMinimumInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Longest accepted credential (token or key) in characters; longer ones are refused without parsing.</summary>
    public int MaxCredentialLength { get; init; } = 8192;

    /// <summary>ApiKey: the header carrying the key.</summary>
    public string Header { get; init; } = "X-Api-Key";

    /// <summary>ApiKey: the known keys. Several entries may share a principal, which is how keys are rotated.</summary>
    public IReadOnlyList<ApiKeyEntry> Keys { get; init; } = [];

    /// <summary>
    /// Secret reference (at least 32 bytes) of the HMAC key that signs the identity headers sent to the backend
    /// (<c>X-Edge-Signature</c>, <c>X-Edge-Timestamp</c>). Absent: identity headers are sent unsigned.
    /// </summary>
    public string? IdentitySigningKey { get; init; }
}
