namespace Edge.Configuration.RateLimiting;

internal enum RedisOutageMode
{
    /// <summary>An in-process limiter holding <c>LocalShare</c> of the limit decides.</summary>
    Local,

    /// <summary>Admit every request.</summary>
    Open,

    /// <summary>Refuse every request with 503 <c>rate_limit_unavailable</c>.</summary>
    Closed,
}
