using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Edge.Proxy.Observability;

internal static class ObservabilityExtensions
{
    /// <summary>
    /// <c>Edge:Observability:Activities</c>: true restores ASP.NET Core's hosting Activity and log scope and HttpClient's
    /// child Activity per request (log events written during a request then carry <c>@tr</c>/<c>@sp</c> and the request
    /// scope). Off by default: <see cref="EdgeTraceContext"/> gives the audit record its trace id and the backend its
    /// <c>traceparent</c> without them.
    /// </summary>
    public const string ActivitiesKey = "Edge:Observability:Activities";

    public static bool ActivitiesEnabled(IConfiguration configuration) => configuration.GetValue<bool>(ActivitiesKey);

    public static void AddEdgeObservability(this WebApplicationBuilder builder)
    {
        // ASP.NET Core hosting starts an Activity and a log scope for every request whenever its diagnostics logger is
        // enabled at Critical (it logs nothing at Warning or above per request; only its Information start/finish lines).
        var hostingDiagnostics = ActivitiesEnabled(builder.Configuration) ? LogEventLevel.Warning : LevelAlias.Off;
        builder.Services.AddSerilog((services, logger) => logger
            .MinimumLevel.Information()
            // YARP and ASP.NET Core log every proxied request at Information; the audit trail and metrics cover that.
            .MinimumLevel.Override("Yarp", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("System.Net.Http.HttpClient", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", hostingDiagnostics)
            .ReadFrom.Configuration(builder.Configuration)
            .Enrich.FromLogContext()
            .WriteTo.Console(new RenderedCompactJsonFormatter()));

        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ManagementPortMatcherPolicy>());
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(EdgeMetrics.MeterName)
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Routing")
            // YARP forwards through SocketsHttpHandler, whose meter reports backend request duration and connections.
            .AddMeter("System.Net.Http")
            // The runtime's own meter (GC, allocated bytes, CPU time, thread pool): observable, so it costs nothing per
            // request; load/bench.sh reads the allocated bytes per request from it.
            .AddMeter("System.Runtime")
            .AddPrometheusExporter());

        builder.Services.AddHealthChecks()
            .AddCheck<ConfigHealthCheck>("config", tags: ["ready"]);
    }
}
