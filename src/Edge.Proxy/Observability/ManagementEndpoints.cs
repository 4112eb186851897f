using Edge.Proxy.Configuration;
using Edge.Proxy.ThreatProtection;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Observability;

/// <summary>
/// /metrics, /healthz, /readyz, /edge/status and /edge/bans, served only on the management port: every endpoint carrying
/// <see cref="ManagementEndpointMarker"/> is matched by <see cref="ManagementPortMatcherPolicy"/> on the connection's local port.
/// </summary>
internal static class ManagementEndpoints
{
    public static void MapEdgeManagementEndpoints(this WebApplication app, EdgeHostOptions options)
    {
        // One group, so an endpoint added here later is a management endpoint without anyone remembering the marker.
        var management = app.MapGroup("").WithMetadata(ManagementEndpointMarker.Instance);

        // Read-only: the health and scrape endpoints took any method, so DELETE /healthz answered 200 Healthy.
        var readOnly = new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]);
        management.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(readOnly);

        management.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false }).WithMetadata(readOnly);

        management.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteHealthAsync,
        }).WithMetadata(readOnly);

        // What is served and who is banned: behind Edge:ManagementToken when one is set (probes and scrapers above are not).
        var guarded = management.MapGroup("").WithMetadata(ManagementTokenRequired.Instance);

        // A reload YARP is applying right now is waited for (milliseconds): its routes may already serve, and a status
        // naming the previous revision after a request was served by the new one would contradict it.
        guarded.MapGet("/edge/status", async (EdgeConfigState state, TimeProvider time, CancellationToken aborted) =>
        {
            await state.SettledAsync(time, aborted);
            return Results.Json(EdgeStatus.From(state, options));
        });

        guarded.MapEdgeBanEndpoints();
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
}
