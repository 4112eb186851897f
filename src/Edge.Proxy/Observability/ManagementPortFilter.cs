using Edge.Configuration;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
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
        var managementMethods = new Lazy<(TemplateMatcher Path, IReadOnlyList<string> Methods)[]>(
            () => ManagementMethodMatchers(app.Services.GetRequiredService<EndpointDataSource>()));
        var unrouted = app.Services.GetRequiredService<UnroutedRequests>();
        var allowedHosts = app.Services.GetRequiredService<AllowedHosts>();
        var access = app.Services.GetRequiredService<ManagementAccess>();
        var logger = app.Services.GetRequiredService<ILogger<ManagementAccess>>();
        var refusals = app.Services.GetRequiredService<ManagementRefusals>();
        var clientAddresses = app.Services.GetRequiredService<ClientAddressResolver>();
        access.WarnIfExposed(logger);

        app.Use((context, next) =>
        {
            // Not async, so the common case costs one property check: when routing cannot build its table it fails
            // before its first await, and the task it returns is already faulted.
            Task task;
            try
            {
                task = next(context);
            }
            catch (Exception exception) when (Unrouted(context))
            {
                return unrouted.RoutingFailedAsync(context, exception, audited: !ports.Contains(context.Connection.LocalPort));
            }

            return task.IsFaulted && Unrouted(context)
                ? unrouted.RoutingFailedAsync(context, task.Exception!.GetBaseException(), audited: !ports.Contains(context.Connection.LocalPort))
                : task;

            static bool Unrouted(HttpContext context) =>
                context.GetEndpoint() is null && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested;
        });
        app.UseRouting();
        // Not async: the common case returns next's task directly, with no state machine per request.
        app.Use((context, next) =>
        {
            var isManagementPort = ports.Contains(context.Connection.LocalPort);
            var endpoint = context.GetEndpoint();
            var isManagementEndpoint = endpoint?.Metadata.GetMetadata<ManagementEndpointMarker>() is not null;
            if (isManagementPort)
            {
                // Before the path is looked at: a rebinding page learns nothing, not even which paths exist.
                if (!access.AllowsHost(context.Request))
                {
                    refusals.HostRefused(context.Request.Host.Value!, clientAddresses.Resolve(context).Ip?.ToString());
                    return ManagementAccess.HostNotAllowedAsync(context);
                }

                if (!isManagementEndpoint)
                {
                    // PUT /edge/bans reached routing's method-rejection endpoint (or a proxy route), which is not a
                    // management endpoint: it answered 404, as if the documented path did not exist.
                    return AllowedMethods(managementMethods.Value, context.Request.Path) is { Length: > 0 } allowed
                        ? ManagementMethodNotAllowedAsync(context, allowed)
                        : NotFoundAsync(context);
                }

                if (!access.Authorizes(context.Request, endpoint!, out var presented))
                {
                    if (presented)
                    {
                        refusals.TokenRefused(clientAddresses.Resolve(context).Ip?.ToString());
                    }
                    else
                    {
                        refusals.TokenMissing();
                    }

                    return ManagementAccess.UnauthorizedAsync(context, presented);
                }
            }

            // AllowedHosts is the proxy port's setting; the management port checked its own hosts above.
            if (!isManagementPort && allowedHosts.IsRestricted && !allowedHosts.Allows(context.Request))
            {
                return unrouted.AnswerAsync(context, AllowedHosts.NotAllowed);
            }

            if (endpoint is null)
            {
                // No route matches: the same problem+json as every other answer of the edge, audited without a route.
                return unrouted.AnswerAsync(context, UnroutedRequests.NotFound);
            }

            if (IsMethodRejection(endpoint))
            {
                // Routing picks its method-rejection endpoint from the path alone, before ManagementPortMatcherPolicy can
                // drop the management candidates, so POST /edge/status on the proxy port would answer 405 and reveal the path.
                return MatchesAny(managementPaths.Value, context.Request.Path)
                    ? unrouted.AnswerAsync(context, UnroutedRequests.NotFound)
                    : MethodNotAllowedAsync(context, next, unrouted);
            }

            return next(context);
        });
    }

    // The management port's own 404s are not audited: it is the operators' port, not traffic to the backends.
    private static Task NotFoundAsync(HttpContext context) =>
        ProblemDetailsWriter.WriteAsync(context, UnroutedRequests.NotFound);

    // Not audited, like the management port's 404s.
    private static Task ManagementMethodNotAllowedAsync(HttpContext context, string[] allowed)
    {
        context.Response.Headers.Allow = string.Join(", ", allowed);
        return ProblemDetailsWriter.WriteAsync(context, new EdgeDenial(StatusCodes.Status405MethodNotAllowed, MethodPolicy.ReasonCode,
            "Method not allowed", $"{context.Request.Method} is not served on this management path."));
    }

    private static string[] AllowedMethods((TemplateMatcher Path, IReadOnlyList<string> Methods)[] endpoints, PathString path)
    {
        var allowed = new List<string>();
        foreach (var (matcher, methods) in endpoints)
        {
            if (matcher.TryMatch(path, new RouteValueDictionary()))
            {
                allowed.AddRange(methods.Where(m => !allowed.Contains(m, StringComparer.OrdinalIgnoreCase)));
            }
        }

        return [.. allowed];
    }

    private static (TemplateMatcher, IReadOnlyList<string>)[] ManagementMethodMatchers(EndpointDataSource endpoints) =>
    [
        .. endpoints.Endpoints
            .OfType<RouteEndpoint>()
            .Where(static route => route.Metadata.GetMetadata<ManagementEndpointMarker>() is not null && route.RoutePattern.RawText is not null)
            .Select(static route => (new TemplateMatcher(TemplateParser.Parse(route.RoutePattern.RawText!), new RouteValueDictionary()),
                route.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? (IReadOnlyList<string>)[])),
    ];

    // The rejection endpoint sets the status and the Allow header (the methods the path's routes match); the body is ours.
    private static async Task MethodNotAllowedAsync(HttpContext context, RequestDelegate next, UnroutedRequests unrouted)
    {
        await next(context);
        if (!context.Response.HasStarted && context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
        {
            await unrouted.AnswerAsync(context, new EdgeDenial(StatusCodes.Status405MethodNotAllowed, MethodPolicy.ReasonCode, "Method not allowed",
                $"No route of this edge matches {context.Request.Method} on this path."));
        }
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
