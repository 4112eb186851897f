using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// What one rate-limit decision does to its request, the same for the ordered <c>EdgeRateLimit</c> step and a route's
/// <c>RateLimiterPolicy</c>: the audited outcome, the rate-limit headers (set when the response starts, so a backend
/// cannot override them), and on a refusal the 429 or 503 denial that <see cref="EdgeDecisions"/> records and writes.
/// </summary>
internal static class RateLimitOutcome
{
    public const string LimitedCode = RateLimitCodes.Limited;
    public const string UnavailableCode = RateLimitCodes.Unavailable;

    /// <summary>Applies <paramref name="decision"/> to the request; returns the denial when it was refused.</summary>
    public static EdgeDenial? Apply(HttpContext http, RateLimitPolicy policy, in RateLimitDecision decision, DateTimeOffset now)
    {
        http.Features.Set(EdgeRateLimitFeature.For(decision.Outcome, decision.FallbackReasonTag));
        if (RateLimitHeaders.Any(policy))
        {
            // One state object and a static callback: the headers are formatted when the response starts.
            http.Response.OnStarting(static state => ((PendingHeaders)state).WriteAsync(), new PendingHeaders(http.Response, policy, decision, now));
        }

        return decision.Admitted ? null : Denial(policy.Name, decision);
    }

    private static EdgeDenial Denial(string policyName, in RateLimitDecision decision)
    {
        var retryAfter = RateLimitHeaders.RetryAfterValue(decision.RetryAfter);
        var retryHeaders = new Dictionary<string, string> { [RateLimitHeaders.RetryAfter] = retryAfter };
        if (decision.Source == RateLimitDecisionSource.FallbackClosed)
        {
            return new EdgeDenial(StatusCodes.Status503ServiceUnavailable, UnavailableCode, "Rate limit unavailable",
                "The rate limit of this route cannot be checked right now; retry later.")
            {
                Reason = "rate_limit_redis_unavailable",
                Headers = retryHeaders,
            };
        }

        return new EdgeDenial(StatusCodes.Status429TooManyRequests, LimitedCode, "Too many requests",
            $"Rate limit {policyName} is exhausted; retry after {retryAfter} s.")
        {
            Reason = decision.IsFallback ? "rate_limited_local_fallback" : LimitedCode,
            Headers = retryHeaders,
        };
    }

    private sealed class PendingHeaders(HttpResponse response, RateLimitPolicy policy, RateLimitDecision decision, DateTimeOffset now)
    {
        public Task WriteAsync()
        {
            RateLimitHeaders.Write(response.Headers, policy, decision, now);
            return Task.CompletedTask;
        }
    }
}
