using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.RateLimiting;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// An <c>Edge:RateLimits</c> policy as an ASP.NET Core rate limiter policy (what a YARP route's <c>RateLimiterPolicy</c>
/// names), read from the config being served, so reloads apply. The edge host attaches it to routes itself
/// (<see cref="EdgeRouteRateLimiterPolicy"/>); a plain ASP.NET Core app registers it with
/// <c>services.AddRateLimiter(o => o.AddEdgePolicy("per-ip"))</c> and <c>app.UseRateLimiter()</c>. That
/// middleware runs before the edge steps, so <c>{tenant}</c> and <c>{principal}</c> are only known when the
/// request state already carries them; headers are written on refusals only (the middleware does not expose
/// the lease of an admitted request).
/// </summary>
internal sealed class EdgeAspNetRateLimiterPolicy(string edgePolicyName) : IRateLimiterPolicy<EdgeRateLimitPartition>
{
    public const string DecidingStep = "RateLimiterPolicy";

    private static readonly ConditionalWeakTable<RateLimitPolicyOptions, RateLimitPolicy> Compiled = new();

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => WriteRejectionAsync;

    public RateLimitPartition<EdgeRateLimitPartition> GetPartition(HttpContext httpContext)
    {
        var services = httpContext.RequestServices;
        var edge = services.GetRequiredService<EdgeConfigState>().Current.Edge;
        if (!edge.RateLimits.TryGetValue(edgePolicyName, out var options) || options is null)
        {
            // Validation refuses a config whose routes name a missing policy, so this is only a request still on an
            // endpoint of the previous config while a reload that removed both the route's field and the policy swaps in.
            return RateLimitPartition.GetNoLimiter(new EdgeRateLimitPartition(null, edgePolicyName));
        }

        var policy = Compiled.GetValue(options, o => RateLimitPolicy.TryCreate(edgePolicyName, o, new ConfigErrorList())
            ?? throw new InvalidOperationException($"rate-limit policy '{edgePolicyName}' is invalid"));
        var limiter = services.GetRequiredService<RateLimiterRegistry>().GetOrCreate(policy);
        var request = httpContext.GetEdgeRequest() ?? new EdgeRequestContext
        {
            RequestId = httpContext.TraceIdentifier,
            RouteId = httpContext.GetEndpoint()?.DisplayName ?? "",
            StartedAt = DateTimeOffset.UtcNow,
        };
        var partition = policy.Key.Resolve(httpContext, request);
        return RateLimitPartition.Get(new EdgeRateLimitPartition(limiter, partition), static key => new EdgeKeyRateLimiter(key.Limiter!, key.Partition));
    }

    private async ValueTask WriteRejectionAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        if (context.Lease is not EdgeRateLimitLease { Decision: var decision })
        {
            return;
        }

        var http = context.HttpContext;
        var closed = decision.Source == RateLimitDecisionSource.FallbackClosed;
        if (http.GetEdgeRequest() is { } request)
        {
            // Audited like a step's denial: the deciding "step" is the route's RateLimiterPolicy.
            request.RateLimitOutcome = decision.Outcome;
            request.DecidingStep = DecidingStep;
            request.ReasonCode = closed ? "rate_limit_redis_unavailable" : decision.IsFallback ? "rate_limited_local_fallback" : RateLimitStep.LimitedCode;
        }

        var time = http.RequestServices.GetRequiredService<TimeProvider>();
        var policy = http.RequestServices.GetRequiredService<RateLimiterRegistry>().Find(edgePolicyName)?.Policy;
        if (policy is not null)
        {
            foreach (var (name, value) in RateLimitHeaders.For(policy, decision, time.GetUtcNow()))
            {
                http.Response.Headers[name] = value;
            }
        }

        http.Response.Headers[RateLimitHeaders.RetryAfter] = RateLimitHeaders.RetryAfterValue(decision.RetryAfter);
        if (closed)
        {
            await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, RateLimitStep.UnavailableCode, "Rate limit unavailable",
                "The rate limit of this route cannot be checked right now; retry later.");
            return;
        }

        await ProblemDetailsWriter.WriteAsync(http, StatusCodes.Status429TooManyRequests, RateLimitStep.LimitedCode, "Too many requests",
            $"Rate limit {edgePolicyName} is exhausted; retry after {RateLimitHeaders.RetryAfterValue(decision.RetryAfter)} s.");
    }
}
