using Edge.Proxy.Configuration;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Observability;

/// <summary>/metrics, /healthz, /readyz and /edge/status, served only on the management port.</summary>
internal static class ManagementEndpoints
{
    public static void MapEdgeManagementEndpoints(this WebApplication app, EdgeHostOptions options)
    {
        var ports = app.Services.GetRequiredService<ManagementUrls>().Ports.Select(p => $"*:{p}").ToArray();

        app.MapPrometheusScrapingEndpoint("/metrics").RequireHost(ports).WithMetadata(ManagementEndpointMarker.Instance);

        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false })
            .RequireHost(ports).WithMetadata(ManagementEndpointMarker.Instance);

        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteHealthAsync,
        }).RequireHost(ports).WithMetadata(ManagementEndpointMarker.Instance);

        app.MapGet("/edge/status", (EdgeConfigState state) => Results.Json(EdgeStatus.From(state, options)))
            .RequireHost(ports).WithMetadata(ManagementEndpointMarker.Instance);
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
}
