using System.Diagnostics.Metrics;
using Edge.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Edge.Proxy.Observability;

internal static class ObservabilityExtensions
{
    /// <summary>The OpenTelemetry service name (<c>target_info</c>'s <c>service_name</c> on /metrics).</summary>
    public const string ServiceName = "edge-proxy";

    /// <summary>
    /// <c>Edge:Observability:Activities</c>: true restores ASP.NET Core's hosting Activity and log scope and HttpClient's
    /// child Activity per request (log events written during a request then carry <c>@tr</c>/<c>@sp</c> and the request
    /// scope). Off by default: <see cref="EdgeTraceContext"/> gives the audit record its trace id and the backend its
    /// <c>traceparent</c> without them.
    /// </summary>
    public const string ActivitiesKey = "Edge:Observability:Activities";

    /// <summary>The category of the health check service's per-check log lines (off unless Serilog:MinimumLevel:Override turns it on).</summary>
    internal const string HealthChecksCategory = "Microsoft.Extensions.Diagnostics.HealthChecks";

    internal const string YarpForwarderCategory = "Yarp.ReverseProxy.Forwarder.HttpForwarder";

    internal const string YarpForwarderMiddlewareCategory = "Yarp.ReverseProxy.Forwarder.ForwarderMiddleware";

    public static bool ActivitiesEnabled(IConfiguration configuration) => configuration.GetValue<bool>(ActivitiesKey);

    /// <summary>
    /// <c>Edge:Observability:AllFrameworkMetrics</c>: true also exports the framework instruments that change on every
    /// request but that no dashboard or alert here reads (<see cref="DroppedByDefault"/>). Off by default.
    /// </summary>
    public const string AllFrameworkMetricsKey = "Edge:Observability:AllFrameworkMetrics";

    /// <summary>
    /// ASP.NET Core's, routing's and HttpClient's instruments that take one or two measurements per request (each an
    /// aggregator lookup in the exporter, about 4% of the tenant-only edge's CPU at saturation with the duration
    /// histograms, issue 13) and answer nothing that <c>http.server.request.duration</c> and
    /// <c>http.client.request.duration</c> do not: in-flight counts, match attempts, connection idle/active flips and
    /// pool queueing time. Dropped by a view, so the framework sees no listener and does not build their tags.
    /// </summary>
    internal static readonly IReadOnlySet<string> DroppedByDefault = new HashSet<string>(StringComparer.Ordinal)
    {
        "http.server.active_requests",
        "aspnetcore.routing.match_attempts",
        "http.client.active_requests",
        "http.client.open_connections",
        "http.client.request.time_in_queue",
    };

    /// <summary>
    /// System.Runtime gauges whose Prometheus names end in <c>_count</c>, a suffix Prometheus reserves for histograms and
    /// summaries (<c>promtool check metrics</c> failed on them), renamed as Prometheus names gauges.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> RuntimeRenames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["dotnet.assembly.count"] = "dotnet.assemblies.loaded",
        ["dotnet.process.cpu.count"] = "dotnet.process.cpus",
        ["dotnet.timer.count"] = "dotnet.timers.active",
    };

    /// <summary>
    /// System.Runtime instruments that report a current level but are published as monotonic counters
    /// (dotnet/runtime#112077), so Prometheus got <c>dotnet_thread_pool_thread_count_total</c> typed as a counter, on
    /// which rate() reads every drop as a reset. Dropped; <see cref="EdgeMetrics"/> reports them as gauges.
    /// </summary>
    internal static readonly IReadOnlySet<string> RuntimeMistyped = new HashSet<string>(StringComparer.Ordinal)
    {
        "dotnet.thread_pool.thread.count",
        "dotnet.thread_pool.queue.length",
    };

    /// <summary>The view of one instrument: dropped, renamed or (null) exported as it is.</summary>
    internal static MetricStreamConfiguration? View(Instrument instrument, bool allFrameworkMetrics)
    {
        if (!allFrameworkMetrics && DroppedByDefault.Contains(instrument.Name))
        {
            return MetricStreamConfiguration.Drop;
        }

        if (instrument.Meter.Name != "System.Runtime")
        {
            return null;
        }

        if (RuntimeMistyped.Contains(instrument.Name))
        {
            return MetricStreamConfiguration.Drop;
        }

        return RuntimeRenames.TryGetValue(instrument.Name, out var name) ? new MetricStreamConfiguration { Name = name } : null;
    }

    /// <summary>Another edge on this spool directory: an operator's mistake with a one-line cause, like a taken port.</summary>
    public static bool HeldElsewhere(IOException taken) => taken is Edge.Audit.Spool.SpoolInUseException;

    public static void AddEdgeObservability(this WebApplicationBuilder builder)
    {
        // ASP.NET Core hosting starts an Activity and a log scope for every request whenever its diagnostics logger is
        // enabled at Critical (it logs nothing at Warning or above per request; only its Information start/finish lines).
        var hostingDiagnostics = ActivitiesEnabled(builder.Configuration) ? LogEventLevel.Warning : LevelAlias.Off;
        builder.Services.AddSerilog((services, logger) => logger
            .MinimumLevel.Information()
            // YARP and ASP.NET Core log every proxied request at Information; the audit trail and metrics cover that.
            .MinimumLevel.Override("Yarp", LogEventLevel.Warning)
            // Both log each failed backend call at Warning (an unreachable backend, no healthy destination), one line with
            // a stack trace per client request; EdgeRequestMiddleware logs it at most once a minute instead (event 1005).
            .MinimumLevel.Override(YarpForwarderCategory, LevelAlias.Off)
            .MinimumLevel.Override(YarpForwarderMiddlewareCategory, LevelAlias.Off)
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("System.Net.Http.HttpClient", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", hostingDiagnostics)
            // The health check service logs every non-Healthy check of every /readyz call (Warning when Degraded, Error
            // when Unhealthy): while Redis or the writer was down, each probe, or anyone reaching the management port,
            // wrote a line. /readyz's body says why, and the edge logs the cause itself (events 1300, 1306, 1512, 16xx).
            .MinimumLevel.Override(HealthChecksCategory, LevelAlias.Off)
            .ReadFrom.Configuration(builder.Configuration)
            .Filter.ByExcluding(Edge.Shared.StartupFailureLog.Repeats(HeldElsewhere))
            // Whatever levels the configuration sets: no query string or refused request bytes in framework lines.
            .Filter.ByExcluding(Edge.Shared.RequestContentLog.QuotesRefusedRequest)
            .Enrich.With<Edge.Shared.RequestContentLog>()
            .Enrich.FromLogContext()
            .WriteTo.Console(new RenderedCompactJsonFormatter()),
            // Left alone, Serilog makes this logger the process's static one and every edge's factory writes through
            // whichever edge started last (and closes it for all on dispose): an edge hosted beside others, as in tests
            // or an embedding process, lost its lines to another's sinks.
            preserveStaticLogger: true);

        builder.Services.AddSingleton<EdgeMetrics>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ManagementPortMatcherPolicy>());
        var allFrameworkMetrics = builder.Configuration.GetValue<bool>(AllFrameworkMetricsKey);
        // Named in target_info, as a scrape joins it: the SDK's default is unknown_service:dotnet for the edge and the writer alike.
        var instance = builder.Configuration["Edge:InstanceId"] is { } configured && !string.IsNullOrWhiteSpace(configured) ? configured : Environment.MachineName;
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceInstanceId: instance))
            .WithMetrics(metrics => metrics
            .AddOwnMetersView(instrument => View(instrument, allFrameworkMetrics))
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
