using Microsoft.AspNetCore.Routing.Template;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The path as a legacy backend routes it, which can be another route's path than the one the edge matched. Tomcat,
/// Jetty and the Java frameworks on them remove a <c>;</c> path parameter from every segment (<c>/admin;x/users</c> is
/// their <c>/admin/users</c>); IIS and several Windows and Java stacks split at <c>\</c>; a backend that decodes
/// <c>%2F</c>/<c>%5C</c> before routing (some nginx, CGI and framework setups) splits there too. The edge routes
/// <c>admin;x</c>, <c>admin\users</c> and <c>admin%2Fusers</c> as one segment, so with a catch-all public route and
/// <c>/admin/{**rest}</c> behind an <c>EdgeRequire</c>, the public route took the request and the backend served the
/// admin page. nginx (<c>merge_slashes</c>, on by default) and many frameworks merge <c>//</c>, and IIS drops a segment's
/// trailing dots and spaces, so <c>//admin/users</c> and <c>/admin./users</c>, which the edge routes to the catch-all,
/// are their <c>/admin/users</c> too. Spring's <c>trimTokens</c> and <c>strip()</c>-based routers also drop a segment's
/// leading whitespace, Unicode spaces included (<c>/%20admin/users</c>, <c>/admin%C2%A0/users</c>), and a backend that
/// decodes the whole target before splitting off the query (Apache <c>mod_rewrite</c>, hand-written routers) ends the
/// path at the <c>?</c> or <c>#</c> Kestrel decoded from <c>%3F</c> or <c>%23</c>: <c>/admin%3F/users</c> is its
/// <c>/admin</c>. Windows' best-fit conversion and NFKC-normalising backends read <c>/ａdmin/users</c> and
/// <c>/admin／users</c> as <c>/admin/users</c>. Such a path is refused when, read as the backend may read it, another route (or none) would have taken it; <c>/app/page;jsessionid=1</c> or <c>/projects/group%2Fproject</c> on the route that takes them either way is forwarded.
/// </summary>
/// <remarks>
/// Routes are compared by <c>Order</c>, then by ASP.NET's inbound precedence of <c>Match.Path</c>, as the edge's router
/// does; their <c>Hosts</c>, <c>Methods</c>, <c>Headers</c> and <c>QueryParameters</c> are not, which can only make such
/// a path refused more often, never forwarded to another route's backend path. Only paths holding a <c>;</c>, a
/// <c>\</c>, a <c>%</c>, a space, a <c>?</c> or <c>#</c>, <c>//</c>, a segment ending in <c>.</c> or a non-ASCII
/// character are looked at.
/// </remarks>
internal sealed class BackendPathRouting(IProxyStateLookup proxy)
{
    // Parsed once per route config (a reload brings new config objects): a client sending such paths in a loop costs
    // one match per route, not a template parse per route.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<RouteConfig, ParsedRoute> _parsed = [];

    public bool ReachesAnotherRoute(string? path, RouteConfig current)
    {
        if (string.IsNullOrEmpty(path) || !MayReadOtherwise(path))
        {
            return false;
        }

        var backendPath = AsBackendRoutesIt(path);
        if (string.Equals(backendPath, path, StringComparison.Ordinal))
        {
            return false;
        }

        var stripped = new PathString(backendPath);
        string? best = null;
        var bestOrder = 0;
        var bestPrecedence = 0m;
        foreach (var route in proxy.GetRoutes())
        {
            var parsed = _parsed.GetValue(route.Config, static config => ParsedRoute.Of(config));
            if (!parsed.Matcher.TryMatch(stripped, new RouteValueDictionary()))
            {
                continue;
            }

            var order = route.Config.Order ?? 0;
            var precedence = parsed.Precedence;
            if (best is null || order < bestOrder || (order == bestOrder && precedence < bestPrecedence))
            {
                (best, bestOrder, bestPrecedence) = (route.Config.RouteId, order, precedence);
            }
        }

        return !string.Equals(best, current.RouteId, StringComparison.Ordinal);
    }

    // Vectorised scans; the common path has none of these.
    private static bool MayReadOtherwise(ReadOnlySpan<char> path) =>
        path.IndexOfAny(Suspicious) >= 0 || path.IndexOf("//", StringComparison.Ordinal) >= 0
        || path.IndexOf("./", StringComparison.Ordinal) >= 0 || path[^1] == '.' || !System.Text.Ascii.IsValid(path);

    private static readonly System.Buffers.SearchValues<char> Suspicious = System.Buffers.SearchValues.Create(";\\%?# ");

    /// <summary>
    /// Path parameters removed, <c>\</c>, <c>%2F</c> and <c>%5C</c> read as <c>/</c>, empty segments merged, a segment's
    /// leading whitespace and trailing dots and whitespace removed (a segment of only dots and whitespace is kept), and
    /// everything from a <c>?</c> or <c>#</c> on dropped, after a non-ASCII path is put in its compatibility form
    /// (<see cref="PathPolicy.CompatibilityForm"/>: fullwidth letters, <c>／</c> and <c>＼</c> read as ASCII, as Windows'
    /// best-fit conversion and NFKC-normalising backends do).
    /// </summary>
    internal static string AsBackendRoutesIt(string path)
    {
        path = System.Text.Ascii.IsValid(path) ? path : PathPolicy.CompatibilityForm(path) ?? path;
        var builder = new System.Text.StringBuilder(path.Length);
        var inParameter = false;
        var segmentStart = 0;
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c == '%' && i + 2 < path.Length && (path.AsSpan(i + 1, 2).Equals("2F", StringComparison.OrdinalIgnoreCase)
                || path.AsSpan(i + 1, 2).Equals("5C", StringComparison.OrdinalIgnoreCase)))
            {
                (c, i) = ('/', i + 2);
            }

            if (c is '?' or '#')
            {
                break;
            }

            if (c is '/' or '\\')
            {
                inParameter = false;
                EndSegment(builder, segmentStart);
                if (builder.Length == 0 || builder[^1] != '/')
                {
                    builder.Append('/');
                }

                segmentStart = builder.Length;
            }
            else if (c == ';')
            {
                inParameter = true;
            }
            else if (!inParameter)
            {
                builder.Append(c);
            }
        }

        EndSegment(builder, segmentStart);
        return builder.ToString();
    }

    // Windows (IIS) drops trailing dots and spaces from a name: "admin. " is its "admin"; String.trim() and strip() drop
    // whitespace at both ends.
    private static void EndSegment(System.Text.StringBuilder builder, int start)
    {
        var end = builder.Length;
        while (end > start && (builder[end - 1] == '.' || char.IsWhiteSpace(builder[end - 1])))
        {
            end--;
        }

        var first = start;
        while (first < end && char.IsWhiteSpace(builder[first]))
        {
            first++;
        }

        if (first < end)
        {
            builder.Length = end;
            builder.Remove(start, first - start);
        }
    }

    private sealed record ParsedRoute(TemplateMatcher Matcher, decimal Precedence)
    {
        public static ParsedRoute Of(RouteConfig config)
        {
            var path = config.Match.Path ?? "/{**any}";
            var template = TemplateParser.Parse(path);
            // The request path is compared in its compatibility form, so the route's is too: a route whose own path holds
            // such a character (a Turkish 'ı') must still take its own requests. The routing precedence stays the
            // route's own; a folded path that no longer parses (a constraint's pattern changed) keeps the route's.
            if (!System.Text.Ascii.IsValid(path) && PathPolicy.CompatibilityForm(path) is { } folded)
            {
                try
                {
                    return new ParsedRoute(new TemplateMatcher(TemplateParser.Parse(folded), new RouteValueDictionary()), RoutePrecedence.ComputeInbound(template));
                }
                catch (ArgumentException)
                {
                }
            }

            return new ParsedRoute(new TemplateMatcher(template, new RouteValueDictionary()), RoutePrecedence.ComputeInbound(template));
        }
    }
}
