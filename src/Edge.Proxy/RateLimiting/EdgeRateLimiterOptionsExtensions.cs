using Microsoft.AspNetCore.RateLimiting;

namespace Edge.Proxy.RateLimiting;

internal static class EdgeRateLimiterOptionsExtensions
{
    /// <summary>Registers an <c>Edge:RateLimits</c> policy as an ASP.NET Core rate limiter policy of the same name.</summary>
    public static RateLimiterOptions AddEdgePolicy(this RateLimiterOptions options, string edgePolicyName, string? aspNetPolicyName = null) =>
        options.AddPolicy(aspNetPolicyName ?? edgePolicyName, new EdgeAspNetRateLimiterPolicy(edgePolicyName));
}
