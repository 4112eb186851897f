using System.Globalization;
using Edge.Audit.Storage;
using Edge.AuditWriter.Api;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Ingest;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Retention;
using Edge.AuditWriter.Ui;
using Edge.Shared;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Serilog;
using Serilog.Formatting.Compact;

namespace Edge.AuditWriter.Hosting;

/// <summary>Builds the writer host; Program and in-process tests share it.</summary>
public static class WriterApp
{
    /// <summary>Another writer on this SQLite store: an operator's mistake with a one-line cause, like a taken port.</summary>
    public static bool HeldElsewhere(IOException taken) => taken is AuditStoreInUseException;

    /// <summary>Kestrel's switch that refuses a bare LF as an HTTP/1.x line end (the edge sets the same one).</summary>
    internal const string StrictLineEndsSwitch = "Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators";

    /// <param name="configureServices">Replaces services after the defaults (tests inject a controllable TimeProvider).</param>
    public static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices = null)
    {
        // As on the edge (EdgeApplication): Kestrel accepts a bare LF as an HTTP/1.x line end by default since .NET 7, so
        // "Host: x<LF>X-A: 1" was two headers here where a proxy in front may forward one. Refused instead (400, closed).
        AppContext.SetSwitch(StrictLineEndsSwitch, true);
        var builder = Edge.Configuration.HostBuilders.Create(args);
        // The default before the configuration, as on the edge: set after it, it overrode Serilog:MinimumLevel:Override's
        // own Microsoft.AspNetCore entry, and ASP.NET Core's logs could not be turned on to investigate the writer.
        builder.Host.UseSerilog((context, logging) => logging
            .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
            .ReadFrom.Configuration(context.Configuration)
            .Filter.ByExcluding(Edge.Shared.StartupFailureLog.Repeats(HeldElsewhere))
            // Whatever levels the configuration sets: no query string or refused request bytes in framework lines.
            .Filter.ByExcluding(Edge.Shared.RequestContentLog.QuotesRefusedRequest)
            .Enrich.With<Edge.Shared.RequestContentLog>()
            .WriteTo.Console(new RenderedCompactJsonFormatter()),
            // The writer's own logger, not Serilog's process-wide static one (see the edge's AddEdgeObservability).
            preserveStaticLogger: true);
        builder.Services.Configure<WriterOptions>(builder.Configuration.GetSection("Writer"));
        // A header value with a byte outside ASCII reaches the endpoints (as Latin-1, one char per byte) instead of
        // Kestrel's bare 400: a key or token with one is answered 401 problem+json like any other wrong one.
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(
            static options => Edge.Shared.Latin1RequestHeaders.Use(options));
        KestrelRefusalAnswers.AddTo(builder);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new AuditLog(
            sp.GetRequiredService<IOptions<WriterOptions>>().Value, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AuditLog>>()));
        builder.Services.AddSingleton<CallerAuthenticator>();
        builder.Services.AddSingleton<IngestAuthenticator>();
        builder.Services.AddHostedService<CheckpointService>();
        builder.Services.AddHostedService<WriterLeaseService>();
        builder.Services.AddSingleton<RetentionMetrics>();
        builder.Services.AddSingleton<Edge.Shared.RefusalRecordLimiter>();
        builder.Services.AddSingleton<IngestMetrics>();
        builder.Services.AddSingleton<IngestGate>();
        builder.Services.AddHostedService<RetentionService>();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("edge-audit-writer", serviceInstanceId: Environment.MachineName))
            .WithMetrics(metrics => metrics.AddOwnMetersView().AddMeter(WriterMeter.Name).AddPrometheusExporter());
        configureServices?.Invoke(builder.Services);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.AddRequestContext);

        var app = builder.Build();
        KestrelRefusalAnswers.Subscribe(app);
        WriterSettingsFileLog.Subscribe(app);
        // Every answer is the writer's own (JSON, CSV, tiles, pages): none may be sniffed into HTML that runs in the
        // origin of the viewer, whose records hold client-chosen text.
        app.Use(static (context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return next(context);
        });
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // A misspelt setting was ignored: Writer:Retention:Defualt kept every body forever, Writer:Autentication left
        // every auditor with 401, and the writer started as if both were set.
        Edge.Configuration.HostSettings.RefuseUnknownSettings(app.Configuration.GetSection("Writer"), SettingNames<WriterOptions>());
        Edge.Configuration.HostSettings.RefuseUnknownSettings(app.Configuration.GetSection("Writer:Retention"), SettingNames<RetentionOptions>());
        // Open the store, check it against its last checkpoint and load keys before listening.
        var writerOptions = app.Services.GetRequiredService<IOptions<WriterOptions>>().Value;
        var urls = (app.Configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Edge.Configuration.HostSettings.RefuseUnusableUrls(urls);
        Edge.Configuration.KestrelCertificates.RefuseUnusable(app.Configuration, urls, app.Environment.ContentRootPath, TimeProvider.System.GetUtcNow());
        ValidateIntervals(writerOptions);
        // Named without the file that defines it, the entry was ignored: the writer started, and every read call
        // answered 401 "valid auditor credentials are required" to a key the edge's proxy.json holds.
        if (!string.IsNullOrEmpty(writerOptions.Authentication) && string.IsNullOrEmpty(writerOptions.ProxyConfigPath))
        {
            throw new InvalidOperationException(
                $"Writer:Authentication names '{writerOptions.Authentication}' but Writer:ProxyConfigPath is not set; set it to the edge's proxy.json, whose Edge:Authentication defines that entry.");
        }

        RetentionService.Validate(writerOptions.Retention, app.Configuration.GetSection("Writer:Retention:Tenants"));
        // The credentials first: a writer refused for one must not have created its store and keys (a new signing key on
        // a fresh host is a new log identity beside the intended one).
        app.Services.GetRequiredService<CallerAuthenticator>();
        app.Services.GetRequiredService<IngestAuthenticator>();
        app.Services.GetRequiredService<AuditLog>();
        IngestEndpoint.Map(app);
        ReadEndpoints.Map(app);
        TileEndpoints.Map(app);
        ViewerEndpoints.Map(app);
        // Ready on both roles (a standby serves reads); the role tells a load balancer or the shipper which one ingests.
        app.MapGet("/readyz", (AuditLog log) => !log.StoreInPlace ? Problems.StoreUnavailable()
            : log.LastWriteFailure is { } failure ? Problems.StoreWriteFailing(failure)
            : Results.Json(new { status = "ready", role = log.IsSequencer ? "sequencer" : "standby" }))
            .WithMetadata(ReadEndpoints.GetOrHead);
        // Counts only (no record content): ingest batches, records and commits; retention runs, pruned records, shredded
        // keys, erased records. IngestMetrics and RetentionMetrics record 0 for each counter as they are created, so a scrape
        // before the first batch or retention run shows them at 0: the meter provider (the exporter's listener) is built first, since a measurement
        // made before any listener is lost.
        app.Services.GetRequiredService<MeterProvider>();
        app.Services.GetRequiredService<IngestMetrics>();
        app.Services.GetRequiredService<RetentionMetrics>();
        // Read-only, as the edge's: the scrape endpoint answered any method, DELETE /metrics with the scrape.
        app.MapPrometheusScrapingEndpoint().WithMetadata(ReadEndpoints.GetOrHead);
        return app;
    }

    private static string[] SettingNames<TOptions>() => [.. typeof(TOptions).GetProperties().Where(static p => p.CanWrite).Select(static p => p.Name)];

    /// <summary>
    /// A zero or negative interval reached PeriodicTimer only once the host started its services, and aborted the
    /// process with a stack trace ending in Kestrel's BindAsync; a zero batch size refused every batch the edge shipped.
    /// </summary>
    private static void ValidateIntervals(WriterOptions options)
    {
        if (options.CheckpointInterval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Writer:CheckpointInterval must be a positive TimeSpan (default 00:00:01), not {options.CheckpointInterval}.");
        }

        if (options.LeaseInterval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Writer:LeaseInterval must be a positive TimeSpan (default 00:00:01), not {options.LeaseInterval}.");
        }

        // Both drive a PeriodicTimer, which refuses a longer period once the host has started: CheckpointInterval=60.00:00:00
        // aborted the writer (exit 134) after it had begun listening.
        foreach (var (name, interval) in new[] { ("CheckpointInterval", options.CheckpointInterval), ("LeaseInterval", options.LeaseInterval) })
        {
            if (interval > RetentionService.MaxInterval)
            {
                throw new InvalidOperationException(
                    $"Writer:{name} must be at most {RetentionService.MaxInterval.ToString("c", CultureInfo.InvariantCulture)}, not {interval.ToString("c", CultureInfo.InvariantCulture)}.");
            }
        }

        if (options.MaxIngestBytes <= 0)
        {
            throw new InvalidOperationException($"Writer:MaxIngestBytes must be positive (default 33554432), not {options.MaxIngestBytes}.");
        }

        if (options.MaxConcurrentIngests <= 0)
        {
            throw new InvalidOperationException($"Writer:MaxConcurrentIngests must be positive (default 16), not {options.MaxConcurrentIngests}.");
        }

        if (options.MaxRecordBytes <= 0)
        {
            throw new InvalidOperationException($"Writer:MaxRecordBytes must be positive (default 1048576), not {options.MaxRecordBytes}.");
        }

        // The origin is the checkpoint's first line and the signing key's name (C2SP tlog-checkpoint, signed-note): an
        // empty one or one with a space crashed the start with a FormatException from key generation.
        if (!Edge.Audit.Checkpoints.NoteSigner.IsValidName(options.Origin) || options.Origin.Any(char.IsControl))
        {
            throw new InvalidOperationException(
                "Writer:Origin must be a non-empty name without spaces, '+' or control characters, such as a schema-less URL (default edge-audit; e.g. audit.example.com/edge).");
        }
    }
}
