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
    /// <summary>
    /// Why the outage mode answered (<see cref="RateLimitFallbackReason.None"/> otherwise). The audit record should carry
    /// it next to <see cref="Outcome"/> (e.g. as <c>RateLimitFallbackReason</c>, tag text from <see cref="FallbackReasonTag"/>).
    /// </summary>
    public RateLimitFallbackReason FallbackReason { get; init; }

    /// <summary>The reason as the metric tag and audit text: <c>disconnected</c>, <c>breaker_open</c>, … or null.</summary>
    public string? FallbackReasonTag => FallbackReason == RateLimitFallbackReason.None ? null : RateLimitMetrics.ReasonTag(FallbackReason);

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
