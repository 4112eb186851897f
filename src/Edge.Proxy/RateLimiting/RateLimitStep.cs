using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Resolves the request's partition, asks the policy's limiter, and puts the rate-limit headers on the response
/// whatever happens next (backend answer, later denial, or this step's 429/503).
/// </summary>
internal sealed class RateLimitStep(EdgeRateLimiter limiter, TimeProvider time) : IEdgeStep
{
    public const string LimitedCode = "rate_limited";
    public const string UnavailableCode = "rate_limit_unavailable";
    public const string PolicyItem = "RateLimitPolicy";

    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var policy = limiter.Policy;
        var partition = policy.Key.Resolve(context.HttpContext, context.Request);
        var decision = await limiter.DecideAsync(partition, 1, context.RequestAborted);

        context.Request.RateLimitOutcome = decision.Outcome;
        context.Request.Items[PolicyItem] = policy.Name;

        var headers = RateLimitHeaders.For(policy, decision, time.GetUtcNow());
        if (headers.Count > 0)
        {
            // Set when the response starts, so a backend cannot override or duplicate the edge's values.
            context.HttpContext.Response.OnStarting(static state =>
            {
                var (response, values) = ((HttpResponse, List<KeyValuePair<string, string>>))state;
                foreach (var (name, value) in values)
                {
                    response.Headers[name] = value;
                }

                return Task.CompletedTask;
            }, (context.HttpContext.Response, headers));
        }

        if (decision.Admitted)
        {
            return EdgeStepResult.Continue;
        }

        var retryHeaders = new Dictionary<string, string> { [RateLimitHeaders.RetryAfter] = RateLimitHeaders.RetryAfterValue(decision.RetryAfter) };
        if (decision.Source == RateLimitDecisionSource.FallbackClosed)
        {
            return EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status503ServiceUnavailable, UnavailableCode, "Rate limit unavailable",
                "The rate limit of this route cannot be checked right now; retry later.")
            {
                Reason = "rate_limit_redis_unavailable",
                Headers = retryHeaders,
            });
        }

        return EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status429TooManyRequests, LimitedCode, "Too many requests",
            $"Rate limit {policy.Name} is exhausted; retry after {retryHeaders[RateLimitHeaders.RetryAfter]} s.")
        {
            Reason = decision.IsFallback ? "rate_limited_local_fallback" : LimitedCode,
            Headers = retryHeaders,
        });
    }
}
