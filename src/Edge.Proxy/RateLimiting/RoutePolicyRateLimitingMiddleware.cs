using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The route's <c>RateLimiterPolicy</c> (an <c>Edge:RateLimits</c> policy) in the edge host. ASP.NET Core's
/// rate-limiting middleware ran it before, but that middleware keeps an admitted request's lease to itself: admitted
/// responses had no rate-limit headers and their audit records no rate-limit outcome, so an admission by an outage
/// mode (Open, Local) left no trace. Asking the policy's limiter here, with the request in hand, applies every decision
/// through <see cref="RateLimitOutcome"/> exactly as the <c>EdgeRateLimit</c> step does.
/// </summary>
internal sealed class RoutePolicyRateLimitingMiddleware(RequestDelegate next, EdgeRateLimiterPolicies policies)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<RoutePolicyMetadata>() is not { } route)
        {
            return next(context);
        }

        var pending = policies.DecideAsync(route, context);
        // A lease token or a cached refusal decides synchronously: no async state machine for the common case.
        return pending.IsCompletedSuccessfully ? ContinueAsync(context, pending.Result) : AwaitAsync(context, pending);
    }

    private Task ContinueAsync(HttpContext context, EdgeDenial? denial) =>
        denial is null ? next(context) : policies.DenyAsync(context, denial);

    private async Task AwaitAsync(HttpContext context, ValueTask<EdgeDenial?> pending) =>
        await ContinueAsync(context, await pending.ConfigureAwait(false)).ConfigureAwait(false);
}

/// <summary>
/// Endpoint metadata naming the route's <c>Edge:RateLimits</c> policy.
/// </summary>
/// <param name="OneOfSeveral">The route also has <c>EdgeRateLimit</c> steps: the response reports the binding decision.</param>
internal sealed record RoutePolicyMetadata(string PolicyName, bool OneOfSeveral);
