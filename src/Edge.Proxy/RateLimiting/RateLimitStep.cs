using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Resolves the request's partition, asks the policy's limiter, and applies the decision (<see cref="RateLimitOutcome"/>):
/// the rate-limit headers go on the response whatever happens next (backend answer, later denial, or this step's 429/503).
/// </summary>
internal sealed class RateLimitStep(EdgeRateLimiter limiter, TimeProvider time) : IEdgeStep
{
    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var policy = limiter.Policy;
        var partition = policy.Key.Resolve(context.HttpContext);
        var decision = await limiter.DecideAsync(partition, 1, context.RequestAborted);
        return RateLimitOutcome.Apply(context.HttpContext, policy, decision, time.GetUtcNow()) is { } denial
            ? EdgeStepResult.Deny(denial)
            : EdgeStepResult.Continue;
    }
}
