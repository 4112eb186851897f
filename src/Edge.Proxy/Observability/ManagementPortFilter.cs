using Edge.Proxy.Configuration;
using Microsoft.AspNetCore.Routing.Template;

namespace Edge.Proxy.Observability;

/// <summary>
/// Keeps the two listeners apart: the management port answers only management endpoints, and proxy routes are never
/// reachable through it (a route matching /metrics must not expose the backend on the admin port, and vice versa).
/// </summary>
internal static class ManagementPortFilter
{
    public static void UseEdgeManagementPortFilter(this WebApplication app, EdgeHostOptions options)
    {
        var ports = app.Services.GetRequiredService<ManagementUrls>().Ports;
        var managementPaths = new Lazy<TemplateMatcher[]>(() => ManagementPathMatchers(app.Services.GetRequiredService<EndpointDataSource>()));
        app.UseRouting();
        // Not async: the common case returns next's task directly, with no state machine per request.
        app.Use((context, next) =>
        {
            var isManagementPort = ports.Contains(context.Connection.LocalPort);
            var endpoint = context.GetEndpoint();
            var isManagementEndpoint = endpoint?.Metadata.GetMetadata<ManagementEndpointMarker>() is not null;
            if (isManagementPort && !isManagementEndpoint)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            // Routing picks its method-rejection endpoint from the path alone, before ManagementPortMatcherPolicy can drop
            // the management candidates, so POST /edge/status on the proxy port would answer 405 and reveal the path.
            if (!isManagementPort && IsMethodRejection(endpoint) && MatchesAny(managementPaths.Value, context.Request.Path))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
    }

    // The rejection endpoint HttpMethodMatcherPolicy builds is a plain Endpoint named "405 HTTP Method Not Supported".
    private static bool IsMethodRejection(Endpoint? endpoint) =>
        endpoint is not null and not RouteEndpoint
        && endpoint.DisplayName is { } name
        && name.StartsWith("405", StringComparison.Ordinal);

    private static bool MatchesAny(TemplateMatcher[] matchers, PathString path)
    {
        foreach (var matcher in matchers)
        {
            if (matcher.TryMatch(path, new RouteValueDictionary()))
            {
                return true;
            }
        }

        return false;
    }

    private static TemplateMatcher[] ManagementPathMatchers(EndpointDataSource endpoints)
    {
        var matchers = new List<TemplateMatcher>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var endpoint in endpoints.Endpoints)
        {
            if (endpoint is RouteEndpoint route
                && route.Metadata.GetMetadata<ManagementEndpointMarker>() is not null
                && route.RoutePattern.RawText is { } text
                && seen.Add(text))
            {
                matchers.Add(new TemplateMatcher(TemplateParser.Parse(text), new RouteValueDictionary()));
            }
        }

        return [.. matchers];
    }
}
