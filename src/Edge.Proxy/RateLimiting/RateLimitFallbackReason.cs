namespace Edge.Proxy.RateLimiting;

/// <summary>Why the outage mode answered a decision; the <c>reason</c> tag of <c>edge_ratelimit_fallbacks_total</c>.</summary>
public enum RateLimitFallbackReason
{
    /// <summary>Not a fallback.</summary>
    None,

    /// <summary>The multiplexer had no connection (Redis down, or the first connect failed): answered at once.</summary>
    Disconnected,

    /// <summary>The breaker was open after real failures: answered at once, Redis not asked.</summary>
    BreakerOpen,

    /// <summary>The connection failed while the command was pending (e.g. Redis killed): answered at once.</summary>
    ConnectionFailed,

    /// <summary>The command was sent and Redis answered nothing for the whole deadline (a blackholed server).</summary>
    NoAnswer,

    /// <summary>Redis kept answering other commands but not this one within the ceiling of a busy wait.</summary>
    Overloaded,

    /// <summary>Redis answered with an error.</summary>
    Error,
}
