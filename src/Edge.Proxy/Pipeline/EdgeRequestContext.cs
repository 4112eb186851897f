using System.Security.Claims;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The edge's state for one proxied request, shared by the ordered steps and read by the audit record at the end.
/// Stored as an HttpContext feature.
/// </summary>
public sealed class EdgeRequestContext
{
    public required string RequestId { get; init; }

    public required string RouteId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The client's IP address by the <c>Edge:TrustedProxies</c> rule; the audit record and <c>{ip}</c> use it.</summary>
    public string? ClientIp { get; init; }

    public string? Tenant { get; set; }

    /// <summary>Where the tenant came from (<c>Header</c>, <c>Host</c>, <c>Path</c>, <c>Claim</c>, <c>Static</c>).</summary>
    public string? TenantSource { get; set; }

    /// <summary>The authenticated principal id, when an authentication step ran and succeeded.</summary>
    public string? Principal { get; set; }

    public ClaimsPrincipal? User { get; set; }

    /// <summary>The authentication method (<c>jwt</c>, <c>api-key</c>, <c>anonymous</c>).</summary>
    public string? AuthMethod { get; set; }

    public IReadOnlyList<string> Roles { get; set; } = [];

    /// <summary>The step that denied the request, or null when every step let it through.</summary>
    public string? DecidingStep { get; set; }

    /// <summary>The precise reason code of the denial (audited, counted, not necessarily shown to the client).</summary>
    public string? ReasonCode { get; set; }

    /// <summary>Rate-limit outcome, e.g. <c>allowed</c>, <c>limited</c>, <c>redis-unavailable-open</c>.</summary>
    public string? RateLimitOutcome { get; set; }

    public string? SignatureScheme { get; set; }

    /// <summary>Signature result, e.g. <c>valid</c> or a failure code.</summary>
    public string? SignatureResult { get; set; }

    /// <summary>The raw request body when a step buffered it (webhook routes); forwarded byte-for-byte.</summary>
    public ReadOnlyMemory<byte>? BufferedBody { get; set; }

    /// <summary>True once a step has verified the buffered body's authenticity (body-keyed rate limits rely on it).</summary>
    public bool BodyVerified { get; set; }

    /// <summary>Extension slot for steps that need to share state not modelled above.</summary>
    public Dictionary<string, object?> Items { get; } = new(StringComparer.Ordinal);

    public bool IsDenied => DecidingStep is not null;
}
