namespace Edge.Configuration.ThreatProtection;

/// <summary>The denials a ban rule can count (<c>On</c>). Each is derived from the deciding step and its stable code.</summary>
public enum ThreatEvent
{
    /// <summary>401 from <c>EdgeAuthenticate</c> for a presented and refused credential (a missing one guessed nothing).</summary>
    AuthenticationFailed,

    /// <summary><c>EdgeWebhook</c>: <c>signature_invalid</c> or <c>timestamp_out_of_window</c>.</summary>
    SignatureInvalid,

    /// <summary><c>EdgeWebhook</c>: <c>replayed_delivery</c>.</summary>
    ReplayDetected,

    /// <summary>429 <c>rate_limited</c> from a rate-limit step or route policy.</summary>
    RateLimited,

    /// <summary>403 <c>tenant_mismatch</c>.</summary>
    TenantMismatch,

    /// <summary>403 from <c>EdgeRequire</c> or <c>EdgeRequireClaim</c>.</summary>
    Forbidden,

    /// <summary>422 <c>body_invalid</c> or 413 <c>body_too_large</c> (the <c>EdgeValidate</c> step and body buffering).</summary>
    ValidationFailed,

    /// <summary>404 <c>not_found</c> on the proxy port: no route takes the path (path scanning, probing).</summary>
    NotFound,
}
