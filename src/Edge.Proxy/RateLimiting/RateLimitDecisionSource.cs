namespace Edge.Proxy.RateLimiting;

/// <summary>What answered a decision; the <c>source</c> tag of <c>edge_ratelimit_decisions_total</c>.</summary>
internal enum RateLimitDecisionSource
{
    /// <summary>The in-process limiter (no Edge:Redis configured).</summary>
    InProcess,

    /// <summary>One Redis script call.</summary>
    Redis,

    /// <summary>Tokens this instance had already claimed (lease mode): no I/O.</summary>
    Lease,

    /// <summary>Refused without I/O: Redis said no token exists before a known time.</summary>
    RefusalCache,

    FallbackLocal,
    FallbackOpen,
    FallbackClosed,
}
