using System.Text;
using Microsoft.AspNetCore.Routing.Patterns;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>
/// Two routes that match the same requests with the same <c>Order</c> are valid to YARP one by one, but ASP.NET Core's
/// matcher throws <c>AmbiguousMatchException</c> for every request they share: a route block copied without changing
/// its path turned the original route's traffic into 500 <c>edge_routing_error</c> on the next reload.
/// </summary>
/// <remarks>
/// Only routes that match exactly alike are refused: the same path template up to parameter names, the same
/// header and query matchers, methods and hosts that both list a common entry or are both absent (the matcher ranks a
/// route that lists methods or hosts above one that does not, so those never collide). Paths that overlap without
/// being alike are ranked by the router's precedence rules.
/// </remarks>
internal static class RouteOverlap
{
    public static void Validate(IReadOnlyList<RouteConfig> routes, ConfigErrorList errors)
    {
        var seen = new Dictionary<string, List<RouteConfig>>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            if (route.Match is null || KeyOf(route) is not { } key)
            {
                continue;
            }

            if (!seen.TryGetValue(key, out var alike))
            {
                seen[key] = alike = [];
            }

            if (alike.FirstOrDefault(other => Overlap(other.Match.Methods, route.Match.Methods) && Overlap(other.Match.Hosts, route.Match.Hosts)) is { } first)
            {
                errors.Add($"ReverseProxy:Routes:{route.RouteId}:Match",
                    $"matches the same requests as route '{first.RouteId}' (same Path, Methods, Hosts, Headers, QueryParameters and Order), "
                    + "so every such request would fail with 500 edge_routing_error; change one route's Match, or give the one that should win a lower Order");
            }

            alike.Add(route);
        }
    }

    private static bool Overlap(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        (a is not { Count: > 0 } && b is not { Count: > 0 })
        || (a is { Count: > 0 } && b is { Count: > 0 } && a.Intersect(b, StringComparer.OrdinalIgnoreCase).Any());

    /// <summary>What the matcher ranks a route by, besides methods and hosts; null when the path does not parse (YARP's error).</summary>
    internal static string? KeyOf(RouteConfig route)
    {
        RoutePattern pattern;
        try
        {
            // YARP matches a route without a Path (Hosts only) as a catch-all.
            pattern = RoutePatternFactory.Parse(route.Match.Path ?? "/{**catchall}");
        }
        catch (RoutePatternException)
        {
            return null;
        }

        var key = new StringBuilder().Append(route.Order ?? 0).Append('\n');
        foreach (var segment in pattern.PathSegments)
        {
            key.Append('/');
            foreach (var part in segment.Parts)
            {
                switch (part)
                {
                    case RoutePatternLiteralPart literal:
                        key.Append(literal.Content.ToUpperInvariant());
                        break;
                    case RoutePatternSeparatorPart separator:
                        key.Append(separator.Content);
                        break;
                    case RoutePatternParameterPart parameter:
                        // The name does not change what matches; the kind and the constraints do.
                        key.Append('{').Append(parameter.IsCatchAll ? "**" : "").Append(parameter.IsOptional ? "?" : "")
                            .AppendJoin(':', parameter.ParameterPolicies.Select(static p => p.Content)).Append('}');
                        break;
                }
            }
        }

        key.Append('\n');
        foreach (var header in route.Match.Headers ?? [])
        {
            key.Append(header?.Name?.ToUpperInvariant()).Append('=').AppendJoin(',', header?.Values ?? []).Append(';')
                .Append(header?.Mode).Append(';').Append(header?.IsCaseSensitive).Append('\n');
        }

        key.Append('\n');
        foreach (var query in route.Match.QueryParameters ?? [])
        {
            key.Append(query?.Name?.ToUpperInvariant()).Append('=').AppendJoin(',', query?.Values ?? []).Append(';')
                .Append(query?.Mode).Append(';').Append(query?.IsCaseSensitive).Append('\n');
        }

        return key.ToString();
    }
}
