using System.Runtime.CompilerServices;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Resolves the request's partition, asks the policy's limiter, and applies the decision (<see cref="RateLimitOutcome"/>):
/// the rate-limit headers go on the response whatever happens next (backend answer, later denial, or this step's 429/503).
/// </summary>
/// <param name="oneOfSeveral">The route has more than one <c>EdgeRateLimit</c> step (the response reports the binding one).</param>
internal sealed class RateLimitStep(EdgeRateLimiter limiter, TimeProvider time, bool oneOfSeveral = false) : IEdgeStep
{
    public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        // Refused before a token is spent: no copy of a repeated key header may choose the bucket.
        if (KeyHeaders.Repeated(context.HttpContext, limiter.Policy.Key.HeaderNames) is { } repeated)
        {
            return ValueTask.FromResult(EdgeStepResult.Deny(KeyHeaders.Denial(repeated)));
        }

        var partition = limiter.Policy.Key.Resolve(context.HttpContext);
        var pending = limiter.DecideAsync(partition, 1, context.RequestAborted);
        // A lease token or a cached refusal decides synchronously: no async state machine for the common case.
        return pending.IsCompletedSuccessfully
            ? new ValueTask<EdgeStepResult>(Apply(context.HttpContext, pending.Result))
            : AwaitAsync(context.HttpContext, pending);
    }

    // Pooled: every strict decision that asks Redis, and every lease claim, comes through here.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<EdgeStepResult> AwaitAsync(HttpContext http, ValueTask<RateLimitDecision> pending) =>
        Apply(http, await pending);

    private EdgeStepResult Apply(HttpContext http, in RateLimitDecision decision) =>
        RateLimitOutcome.Apply(http, limiter.Policy, decision, time, oneOfSeveral) is { } denial
            ? EdgeStepResult.Deny(denial)
            : EdgeStepResult.Continue;
}
