using Edge.Proxy.Configuration;

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
        app.UseRouting();
        // Not async: the common case returns next's task directly, with no state machine per request.
        app.Use((context, next) =>
        {
            var isManagementPort = ports.Contains(context.Connection.LocalPort);
            var isManagementEndpoint = context.GetEndpoint()?.Metadata.GetMetadata<ManagementEndpointMarker>() is not null;
            if (isManagementPort && !isManagementEndpoint)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
    }
}
