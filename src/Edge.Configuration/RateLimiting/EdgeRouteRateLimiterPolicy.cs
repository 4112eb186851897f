using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.RateLimiting;

/// <summary>
/// Makes a YARP route's <c>RateLimiterPolicy</c> name an <c>Edge:RateLimits</c> policy of the config being served.
/// YARP checks that name against the policies registered in <c>RateLimiterOptions</c> at startup, and ASP.NET Core's
/// middleware snapshots that registry when it is built, so a policy added by a hot reload could never be found by name.
/// Instead the name is moved into the route's metadata before YARP sees the route, and an endpoint convention
/// (<see cref="EdgeRateLimiterPolicies.Apply"/>) attaches the policy object itself (<c>RequireRateLimiting(policy)</c>), which the middleware uses without any name lookup.
/// The name is validated here against the candidate <c>Edge</c> section. <c>default</c> and <c>disable</c> keep
/// YARP's meaning.
/// </summary>
internal static class EdgeRouteRateLimiterPolicy
{
    public const string MetadataKey = "EdgeRateLimiterPolicy";

    public static bool IsEdgePolicyName(string? name) =>
        !string.IsNullOrEmpty(name)
        && !string.Equals(name, "default", StringComparison.OrdinalIgnoreCase)
        && !string.Equals(name, "disable", StringComparison.OrdinalIgnoreCase);

    /// <summary>The route as YARP must see it: an Edge policy name travels in metadata, not in RateLimiterPolicy.</summary>
    public static RouteConfig ForYarp(RouteConfig route)
    {
        if (!IsEdgePolicyName(route.RateLimiterPolicy))
        {
            return route;
        }

        return route with
        {
            RateLimiterPolicy = null,
            Metadata = new Dictionary<string, string>(route.Metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase)
            {
                [MetadataKey] = route.RateLimiterPolicy!,
            },
        };
    }

    public static void Validate(RouteConfig route, EdgeSection edge, ConfigErrorList errors)
    {
        var name = route.RateLimiterPolicy;
        if (!IsEdgePolicyName(name))
        {
            return;
        }

        var location = $"ReverseProxy:Routes:{route.RouteId}:RateLimiterPolicy";
        if (!edge.RateLimits.TryGetValue(name!, out var options) || options is null)
        {
            var known = edge.RateLimits.Count == 0 ? "none are defined" : "defined: " + string.Join(", ", edge.RateLimits.Keys.Order(StringComparer.Ordinal));
            errors.Add(location, $"rate-limit policy '{name}' is not defined in Edge:RateLimits ({known})");
            return;
        }

        if (RateLimitKeyTemplate.TryParse(options.Key, out _) is { UsesStepState: true } key)
        {
            errors.Add(location, $"policy '{name}' keys on '{key.Text}', but a RateLimiterPolicy runs before the edge steps, where "
                + "{tenant}, {principal} and {body:...} are unknown; key it on {ip}, {route} or {header:...}, or use the EdgeRateLimit step");
        }
    }
}
