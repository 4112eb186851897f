namespace Edge.Configuration.RateLimiting;

internal enum RateLimitMode
{
    /// <summary>Every decision is one atomic Redis script call.</summary>
    Strict,

    /// <summary>An instance claims a batch of tokens atomically and spends them locally.</summary>
    Lease,
}
