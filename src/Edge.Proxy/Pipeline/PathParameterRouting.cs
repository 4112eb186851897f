using Microsoft.AspNetCore.Routing.Template;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Tomcat, Jetty and the Java frameworks on them remove a <c>;</c> path parameter from every segment before they route:
/// <c>/admin;x/users</c> is their <c>/admin/users</c>. The edge routes the segment <c>admin;x</c> as it is, so with a
/// catch-all public route and <c>/admin/{**rest}</c> behind an <c>EdgeRequire</c>, the public route took the request and
/// the backend served the admin page. A path with a parameter is refused when, without its parameters, another route
/// (or none) would have taken it; <c>/app/page;jsessionid=1</c> on the route that takes <c>/app/page</c> is forwarded.
/// </summary>
/// <remarks>
/// Routes are compared by <c>Order</c>, then by ASP.NET's inbound precedence of <c>Match.Path</c>, as the edge's router
/// does; their <c>Hosts</c>, <c>Methods</c>, <c>Headers</c> and <c>QueryParameters</c> are not, which can only make a
/// path with a parameter refused more often, never forwarded to another route's backend path. Only paths with a
/// <c>;</c> are looked at.
/// </remarks>
internal sealed class PathParameterRouting(IProxyStateLookup proxy)
{
    public bool ReachesAnotherRoute(string? path, RouteConfig current)
    {
        if (string.IsNullOrEmpty(path) || path.IndexOf(';', StringComparison.Ordinal) < 0)
        {
            return false;
        }

        var stripped = new PathString(WithoutPathParameters(path));
        string? best = null;
        var bestOrder = 0;
        var bestPrecedence = 0m;
        foreach (var route in proxy.GetRoutes())
        {
            var template = TemplateParser.Parse(route.Config.Match.Path ?? "/{**any}");
            if (!new TemplateMatcher(template, new RouteValueDictionary()).TryMatch(stripped, new RouteValueDictionary()))
            {
                continue;
            }

            var order = route.Config.Order ?? 0;
            var precedence = RoutePrecedence.ComputeInbound(template);
            if (best is null || order < bestOrder || (order == bestOrder && precedence < bestPrecedence))
            {
                (best, bestOrder, bestPrecedence) = (route.Config.RouteId, order, precedence);
            }
        }

        return !string.Equals(best, current.RouteId, StringComparison.Ordinal);
    }

    internal static string WithoutPathParameters(string path)
    {
        var builder = new System.Text.StringBuilder(path.Length);
        var inParameter = false;
        foreach (var c in path)
        {
            if (c == '/')
            {
                inParameter = false;
            }
            else if (c == ';')
            {
                inParameter = true;
            }

            if (!inParameter)
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
