using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// A route whose <c>Match.Methods</c> lists <c>GET</c> takes <c>HEAD</c> too. RFC 9110 section 9.3.2 makes HEAD a GET
/// without the content, and backends serve it so (Flask, Django, Rails, Express, Spring MVC, Go's <c>GET /path</c>
/// patterns run the GET handler), but ASP.NET Core's matcher does not: <c>HEAD /admin</c> skipped a GET-only
/// <c>/admin</c> route with its authentication and RBAC, took a catch-all route next to it, and the backend ran its
/// admin handler for an unauthenticated client (its status, headers and side effects, without the body).
/// </summary>
/// <remarks>
/// A route that lists <c>HEAD</c> itself keeps it: where one matches the same requests as the GET route apart from the
/// methods (<see cref="RouteOverlap"/>'s key), the GET route is left as written, so the two never become ambiguous.
/// </remarks>
internal static class HeadWithGet
{
    public static List<RouteConfig> Apply(IReadOnlyList<RouteConfig> routes)
    {
        HashSet<string>? headRoutes = null;
        foreach (var route in routes)
        {
            if (ListsHead(route) && route.Match is not null && RouteOverlap.KeyOf(route) is { } key)
            {
                (headRoutes ??= new HashSet<string>(StringComparer.Ordinal)).Add(key);
            }
        }

        var result = new List<RouteConfig>(routes.Count);
        foreach (var route in routes)
        {
            var methods = route.Match?.Methods;
            var takesHead = methods is { Count: > 0 } && methods.Contains(HttpMethods.Get, StringComparer.OrdinalIgnoreCase)
                && !ListsHead(route) && (headRoutes is null || RouteOverlap.KeyOf(route) is not { } key || !headRoutes.Contains(key));
            result.Add(takesHead ? route with { Match = route.Match! with { Methods = [.. methods!, HttpMethods.Head] } } : route);
        }

        return result;
    }

    private static bool ListsHead(RouteConfig route) =>
        route.Match?.Methods?.Contains(HttpMethods.Head, StringComparer.OrdinalIgnoreCase) == true;
}
