using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.RateLimiting;

/// <summary>A route's <c>RateLimiterPolicy</c> naming an <c>Edge:RateLimits</c> policy (see <see cref="EdgeRouteRateLimiterPolicy"/>).</summary>
internal sealed class RateLimiterPolicyRouteValidator : IEdgeRouteValidator
{
    public void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors) => EdgeRouteRateLimiterPolicy.Validate(route, edge, errors);

    public RouteConfig ForYarp(RouteConfig route) => EdgeRouteRateLimiterPolicy.ForYarp(route);
}
