using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// One <c>Edge:RateLimits</c> policy as an ASP.NET Core rate limiter policy, for a plain ASP.NET Core app (the edge host
/// runs a route's <c>RateLimiterPolicy</c> itself, <see cref="RoutePolicyRateLimitingMiddleware"/>), which registers it with
/// <c>services.AddRateLimiter(o => o.AddEdgePolicy("per-ip"))</c> and <c>app.UseRateLimiter()</c>. That middleware runs
/// before the edge steps, so <c>{tenant}</c> and <c>{principal}</c> are only known when the request already carries them;
/// headers are written on refusals only (the middleware does not expose the lease of an admitted request).
/// </summary>
/// <param name="policies">The host's singleton; null when registered through <c>RateLimiterOptions</c>, where the
/// container is not built yet, so it is taken from the request's services.</param>
internal sealed class EdgeAspNetRateLimiterPolicy(string edgePolicyName, EdgeRateLimiterPolicies? policies) : IRateLimiterPolicy<EdgeRateLimitPartition>
{
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected =>
        (context, _) => Policies(context.HttpContext).RejectAsync(edgePolicyName, context);

    public RateLimitPartition<EdgeRateLimitPartition> GetPartition(HttpContext httpContext) =>
        Policies(httpContext).GetPartition(edgePolicyName, httpContext);

    private EdgeRateLimiterPolicies Policies(HttpContext context) =>
        policies ?? context.RequestServices.GetRequiredService<EdgeRateLimiterPolicies>();
}
