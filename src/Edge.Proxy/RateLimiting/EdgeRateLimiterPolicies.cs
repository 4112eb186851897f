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

    private readonly ConcurrentDictionary<string, EdgeAspNetRateLimiterPolicy> _policies = new(StringComparer.Ordinal);

    // Compiled per options instance: a reload that changes a policy brings a new options object.
    private readonly ConditionalWeakTable<RateLimitPolicyOptions, RateLimitPolicy> _compiled = new();

    /// <summary>Endpoint convention: attaches the Edge policy named in the route's metadata (see <see cref="EdgeRouteRateLimiterPolicy"/>).</summary>
    public void Apply(IEndpointConventionBuilder endpoint, RouteConfig route)
    {
        if (route.Metadata?.TryGetValue(EdgeRouteRateLimiterPolicy.MetadataKey, out var name) == true && !string.IsNullOrEmpty(name))
        {
            endpoint.RequireRateLimiting(_policies.GetOrAdd(name, static (n, self) => new EdgeAspNetRateLimiterPolicy(n, self), this));
        }
    }

    public RateLimitPartition<EdgeRateLimitPartition> GetPartition(string policyName, HttpContext http)
    {
        if (!state.Serving.Edge.RateLimits.TryGetValue(policyName, out var options) || options is null)
        {
            // Validation refuses a config whose routes name a missing policy, so this is only a request still on an
            // endpoint of the previous config while a reload that removed both the route's field and the policy swaps in.
            return RateLimitPartition.GetNoLimiter(new EdgeRateLimitPartition(null, policyName));
        }

        var policy = _compiled.GetValue(options, o => RateLimitPolicy.TryCreate(policyName, o, new ConfigErrorList())
            ?? throw new InvalidOperationException($"rate-limit policy '{policyName}' is invalid"));
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
