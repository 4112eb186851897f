namespace Edge.Configuration.RateLimiting;

internal enum RateLimitHeaderStyle
{
    /// <summary>X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset.</summary>
    Legacy,

    /// <summary>The IETF draft's RateLimit-Policy and RateLimit.</summary>
    Draft,

    Both,
    None,
}
