namespace Edge.Configuration.RateLimiting;

/// <summary>Stable problem codes of rate-limit refusals.</summary>
internal static class RateLimitCodes
{
    /// <summary>429: the policy's bucket is empty.</summary>
    public const string Limited = "rate_limited";

    /// <summary>503: Redis cannot answer and the policy's outage mode is <c>Closed</c>.</summary>
    public const string Unavailable = "rate_limit_unavailable";
}
