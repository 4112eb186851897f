using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// A capability's rule for a route field outside the edge steps (e.g. <c>RateLimiterPolicy</c>), and how that field
/// must look to YARP, which validates and serves the route.
/// </summary>
public interface IEdgeRouteValidator
{
    void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors);

    /// <summary>The route as YARP must see it; the same rewrite for validation and for serving.</summary>
    RouteConfig ForYarp(RouteConfig route);
}
