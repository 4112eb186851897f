using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// One <c>Edge:RateLimits</c> policy as an ASP.NET Core rate limiter policy, for a plain ASP.NET Core app (the edge host
/// runs a route's <c>RateLimiterPolicy</c> itself, <see cref="RoutePolicyRateLimitingMiddleware"/>), which registers it with
/// <c>services.AddRateLimiter(o => o.AddEdgePolicy("per-ip"))</c> and <c>app.UseRateLimiter()</c>. That middleware runs
/// before the edge steps, so <c>{tenant}</c> and <c>{principal}</c> are only known when the request already carries them;
/// headers are written on refusals only (the middleware does not expose the lease of an admitted request). Registered
/// before the container is built, it takes the policies singleton from the request's services.
/// </summary>
internal sealed class EdgeAspNetRateLimiterPolicy(string edgePolicyName) : IRateLimiterPolicy<EdgeRateLimitPartition>
{
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected =>
        (context, _) => Policies(context.HttpContext).RejectAsync(edgePolicyName, context);

    public RateLimitPartition<EdgeRateLimitPartition> GetPartition(HttpContext httpContext) =>
        Policies(httpContext).GetPartition(edgePolicyName, httpContext);

    private static EdgeRateLimiterPolicies Policies(HttpContext context) =>
        context.RequestServices.GetRequiredService<EdgeRateLimiterPolicies>();
}
