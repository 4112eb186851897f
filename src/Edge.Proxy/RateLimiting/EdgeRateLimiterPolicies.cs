using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.RateLimiting;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The <c>Edge:RateLimits</c> policies as ASP.NET Core rate limiter policies (what a YARP route's <c>RateLimiterPolicy</c>
/// names), read from the config being served so reloads apply. They use the same limiters (<see cref="RateLimiterRegistry"/>)
/// and the same decision path (<see cref="RateLimitOutcome"/>, <see cref="EdgeDecisions"/>) as the <c>EdgeRateLimit</c>
/// step. A singleton: the policy objects and compiled policies are its state, shared by every endpoint.
/// </summary>
internal sealed class EdgeRateLimiterPolicies(EdgeConfigState state, RateLimiterRegistry registry, EdgeDecisions decisions, TimeProvider time)
{
    /// <summary>Recorded as the deciding step of a refusal by a route's <c>RateLimiterPolicy</c>.</summary>
    public const string DecidingStep = "RateLimiterPolicy";

    // Compiled per options instance: a reload that changes a policy brings a new options object.
    private readonly ConditionalWeakTable<RateLimitPolicyOptions, RateLimitPolicy> _compiled = new();

    /// <summary>
    /// Endpoint convention: names the Edge policy of the route's metadata (see <see cref="EdgeRouteRateLimiterPolicy"/>)
    /// for <see cref="RoutePolicyRateLimitingMiddleware"/>.
    /// </summary>
    public static void Apply(IEndpointConventionBuilder endpoint, RouteConfig route)
    {
        if (route.Metadata?.TryGetValue(EdgeRouteRateLimiterPolicy.MetadataKey, out var name) == true && !string.IsNullOrEmpty(name))
        {
            var oneOfSeveral = route.Transforms?.Any(static transform =>
                EdgeStepRegistry.TryGetStepName(transform, out var step) && string.Equals(step, RateLimitStepFactory.StepName, StringComparison.OrdinalIgnoreCase)) ?? false;
            endpoint.WithMetadata(new RoutePolicyMetadata(name, oneOfSeveral));
        }
    }

    /// <summary>The route policy's decision on <paramref name="http"/>, applied (headers, audited outcome); the denial when refused.</summary>
    public ValueTask<EdgeDenial?> DecideAsync(RoutePolicyMetadata route, HttpContext http)
    {
        if (!state.Serving.Edge.RateLimits.TryGetValue(route.PolicyName, out var options) || options is null)
        {
            // Only a request still on an endpoint of the previous config while a reload that removed both the route's
            // field and the policy swaps in (validation refuses a route naming a missing policy).
            return ValueTask.FromResult<EdgeDenial?>(null);
        }

        var policy = Compile(route.PolicyName, options);
        if (KeyHeaders.Repeated(http, policy.Key.HeaderNames) is { } repeated)
        {
            return ValueTask.FromResult<EdgeDenial?>(KeyHeaders.Denial(repeated));
        }

        var limiter = registry.GetOrCreate(policy);
        var pending = limiter.DecideAsync(policy.Key.Resolve(http), 1, http.RequestAborted);
        return pending.IsCompletedSuccessfully
            ? ValueTask.FromResult(RateLimitOutcome.Apply(http, policy, pending.Result, time, route.OneOfSeveral))
            : AwaitAsync(http, policy, route.OneOfSeveral, pending);
    }

    public Task DenyAsync(HttpContext http, EdgeDenial denial) => decisions.DenyAsync(http, DecidingStep, denial);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<EdgeDenial?> AwaitAsync(HttpContext http, RateLimitPolicy policy, bool oneOfSeveral, ValueTask<RateLimitDecision> pending) =>
        RateLimitOutcome.Apply(http, policy, await pending.ConfigureAwait(false), time, oneOfSeveral);

    private RateLimitPolicy Compile(string policyName, RateLimitPolicyOptions options) =>
        _compiled.GetValue(options, o => RateLimitPolicy.TryCreate(policyName, o, new ConfigErrorList())
            ?? throw new InvalidOperationException($"rate-limit policy '{policyName}' is invalid"));

    public RateLimitPartition<EdgeRateLimitPartition> GetPartition(string policyName, HttpContext http)
    {
        if (!state.Serving.Edge.RateLimits.TryGetValue(policyName, out var options) || options is null)
        {
            // Validation refuses a config whose routes name a missing policy, so this is only a request still on an
            // endpoint of the previous config while a reload that removed both the route's field and the policy swaps in.
            return RateLimitPartition.GetNoLimiter(new EdgeRateLimitPartition(null, policyName));
        }

        var policy = Compile(policyName, options);
        var limiter = registry.GetOrCreate(policy);
        var partition = policy.Key.Resolve(http);
        return RateLimitPartition.Get(new EdgeRateLimitPartition(limiter, partition), static key => new EdgeKeyRateLimiter(key.Limiter!, key.Partition));
    }

    public async ValueTask RejectAsync(string policyName, OnRejectedContext context)
    {
        if (context.Lease is not EdgeRateLimitLease { Decision: var decision } || registry.Find(policyName)?.Policy is not { } policy)
        {
            return;
        }

        if (RateLimitOutcome.Apply(context.HttpContext, policy, decision, time) is { } denial)
        {
            await decisions.DenyAsync(context.HttpContext, DecidingStep, denial);
        }
    }
}
