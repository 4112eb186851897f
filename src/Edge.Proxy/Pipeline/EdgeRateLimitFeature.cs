namespace Edge.Proxy.Pipeline;

/// <summary>
/// The rate-limit outcome of the request (e.g. <c>allowed</c>, <c>limited</c>, <c>redis-unavailable-open</c>). Set by
/// rate limiting (step or route policy), read by the audit record.
/// </summary>
/// <param name="FallbackReason">Why the outage mode answered (the <c>edge_ratelimit_fallbacks_total</c> reason), or null.</param>
internal sealed record EdgeRateLimitFeature(string Outcome, string? FallbackReason = null)
{
    private static readonly EdgeRateLimitFeature Allowed = new("allowed");
    private static readonly EdgeRateLimitFeature Limited = new("limited");

    /// <summary>
    /// The feature for one decision; the two outcomes of a healthy limiter are shared instances (a record is immutable),
    /// so the common decision allocates nothing.
    /// </summary>
    public static EdgeRateLimitFeature For(string outcome, string? fallbackReason) => (outcome, fallbackReason) switch
    {
        ("allowed", null) => Allowed,
        ("limited", null) => Limited,
        _ => new EdgeRateLimitFeature(outcome, fallbackReason),
    };
}
