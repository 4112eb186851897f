using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Edge.Proxy.Observability;

internal static class ObservabilityExtensions
{
    public static void AddEdgeObservability(this WebApplicationBuilder builder)
    {
        builder.Services.AddSerilog((services, logger) => logger
            .MinimumLevel.Information()
            // YARP and ASP.NET Core log every proxied request at Information; the audit trail and metrics cover that.
            .MinimumLevel.Override("Yarp", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("System.Net.Http.HttpClient", LogEventLevel.Warning)
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
