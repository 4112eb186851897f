namespace Edge.Proxy.RateLimiting;

/// <summary>One rate-limit decision with what the response headers report.</summary>
internal readonly record struct RateLimitDecision(
    bool Admitted,
    RateLimitDecisionSource Source,
    int Limit,
    long? Remaining,
    TimeSpan? ResetAfter,
    TimeSpan RetryAfter)
{
    /// <summary>True when Redis was unavailable and the outage mode answered.</summary>
    public bool IsFallback => Source is RateLimitDecisionSource.FallbackLocal or RateLimitDecisionSource.FallbackOpen or RateLimitDecisionSource.FallbackClosed;

    /// <summary>The request's audited rate-limit outcome (<c>EdgeRateLimitFeature.Outcome</c>).</summary>
    public string Outcome => Source switch
    {
        RateLimitDecisionSource.FallbackOpen => "redis-unavailable-open",
        RateLimitDecisionSource.FallbackClosed => "redis-unavailable-closed",
        RateLimitDecisionSource.FallbackLocal => Admitted ? "redis-unavailable-local-allowed" : "redis-unavailable-local-limited",
        _ => Admitted ? "allowed" : "limited",
    };

    internal static RateLimitDecision From(BucketResult result, RateLimitDecisionSource source, int limit) =>
        new(result.Granted > 0, source, limit, result.Remaining, result.ResetAfter, result.RetryAfter);
}
