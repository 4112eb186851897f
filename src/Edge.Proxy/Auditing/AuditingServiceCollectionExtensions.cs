using Edge.Audit.Spool;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Edge.Proxy.Auditing;

internal static class AuditingServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeAuditing(this IServiceCollection services)
    {
        services.AddOptions<EdgeAuditOptions>().BindConfiguration(EdgeAuditOptions.SectionName);
        services.AddSingleton<LoggingAuditSink>();
        services.AddSingleton<SpoolAuditSink>();
        services.AddSingleton<LocalFileAuditSink>();
        services.AddSingleton<IAuditSink>(sp => sp.GetRequiredService<IOptions<EdgeAuditOptions>>().Value switch
        {
            { WriterUrl: { Length: > 0 } } => sp.GetRequiredService<SpoolAuditSink>(),
            { LocalFile: { Length: > 0 } } => sp.GetRequiredService<LocalFileAuditSink>(),
            _ => sp.GetRequiredService<LoggingAuditSink>(),
        });
        services.AddSingleton<SecretRotationDetector>();
        services.AddSingleton(sp => new SecurityEventWriter(
            EventAppender(sp),
            sp.GetRequiredService<EdgeHostOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SecurityEventWriter>>()));
        services.AddSingleton<IConfigEventSink>(sp => new ConfigAuditEventSink(
            sp.GetRequiredService<SecurityEventWriter>(),
            sp.GetRequiredService<SecretRotationDetector>(),
            sp.GetRequiredService<ILogger<ConfigAuditEventSink>>()));
        services.AddSingleton<IThreatEventSink>(sp => new ThreatAuditEventSink(sp.GetRequiredService<SecurityEventWriter>()));
        services.AddSingleton<IResponseEventSink>(sp => new ResponseAuditEventSink(sp.GetRequiredService<SecurityEventWriter>()));
        services.AddSingleton<IApprovalEventSink>(sp => new ApprovalAuditEventSink(
            sp.GetRequiredService<SecurityEventWriter>(),
            sp.GetRequiredService<ILogger<ApprovalAuditEventSink>>()));
        services.AddSingleton<AuditShippingService>();
        services.AddHostedService(sp => new ConditionalShipping(sp));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(SpoolMetrics.MeterName));
        services.AddHealthChecks().AddCheck<AuditSpoolHealthCheck>("audit", tags: ["ready"]);
        return services;
    }

    /// <summary>The same target the decision records take, so events never go where decisions do not.</summary>
    private static IAuditEventAppender? EventAppender(IServiceProvider services) =>
        services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value switch
        {
            { WriterUrl: { Length: > 0 } } => new SpoolEventAppender(services.GetRequiredService<SpoolAuditSink>().Spool),
            { LocalFile: { Length: > 0 } } => services.GetRequiredService<LocalFileAuditSink>(),
            _ => null,
        };

    /// <summary>
    /// When a writer is configured: opens the spool (recovery, writer loop) in <see cref="StartingAsync"/>, which the
    /// host runs before any hosted service's StartAsync and so before Kestrel takes traffic, then starts shipping.
    /// Without one: starts the loop that drains decision records into the local file.
    /// </summary>
    private sealed class ConditionalShipping(IServiceProvider services) : IHostedLifecycleService
    {
        private IHostedService? _shipping;

        private bool WriterConfigured => !string.IsNullOrEmpty(services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl);

        private bool LocalFileConfigured => !string.IsNullOrEmpty(services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.LocalFile);

        public async Task StartingAsync(CancellationToken cancellationToken)
        {
            Validate(services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value, WriterConfigured);
            if (!WriterConfigured)
            {
                return;
            }

            // A malformed writer list fails the start here, before the spool opens and Kestrel takes traffic.
            _ = AuditWriterUrls.Parse(services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl!);
            var sink = services.GetRequiredService<SpoolAuditSink>();
            var spool = sink.Spool;
            try
            {
                await spool.StartAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is UnauthorizedAccessException or IOException and not SpoolInUseException)
            {
                // A file at the path, or a folder the edge may not write to: one line naming the setting, not SIGABRT.
                throw new InvalidOperationException(
                    $"Edge:Audit:SpoolPath: the spool directory '{spool.Directory}' cannot be used ({exception.Message}); give a directory the edge can create and write.");
            }

            sink.LogRecoveryDamage();
            sink.RecordRecoveryGaps(services.GetRequiredService<SecurityEventWriter>());
        }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (!WriterConfigured)
            {
                if (LocalFileConfigured)
                {
                    _shipping = services.GetRequiredService<LocalFileAuditSink>();
                    return _shipping.StartAsync(cancellationToken);
                }

                return Task.CompletedTask;
            }

            _shipping = services.GetRequiredService<AuditShippingService>();
            return _shipping.StartAsync(cancellationToken);
        }

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        /// <summary>
        /// Sizes that leave no room at all are refused at start: with SpoolMaxBytes 0 every Required route answered 503
        /// while /readyz said ready, and with LocalQueueCapacity 0 every record was dropped. A negative interval (a stray
        /// minus sign) would silently mean zero.
        /// </summary>
        private static void Validate(EdgeAuditOptions options, bool writerConfigured)
        {
            // The token is only ever sent to a writer: set without one, the edge started in embedded mode and kept every
            // record on its own disk, while the operator who provisioned the token expected them in the writer.
            if (!writerConfigured && !string.IsNullOrEmpty(options.IngestToken))
            {
                throw new InvalidOperationException(
                    "Edge:Audit:IngestToken is set but Edge:Audit:WriterUrl is not: the token is sent only to an audit writer, and without one the records stay on this edge (Edge:Audit:LocalFile); set Edge:Audit:WriterUrl, or remove Edge:Audit:IngestToken.");
            }

            if (writerConfigured && options.SpoolMaxBytes <= 0)
            {
                throw new InvalidOperationException($"Edge:Audit:SpoolMaxBytes must be positive (default 268435456), not {options.SpoolMaxBytes}.");
            }

            if (writerConfigured && options.SpoolCommitInterval < TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Edge:Audit:SpoolCommitInterval must not be negative (default 00:00:00.100 with ProcessCrash, 00:00:00.002 with PowerLoss), not {options.SpoolCommitInterval}.");
            }

            if (writerConfigured && options.ShipInterval < TimeSpan.Zero)
            {
                throw new InvalidOperationException($"Edge:Audit:ShipInterval must not be negative (default 00:00:00.250; 0 posts as soon as records are durable), not {options.ShipInterval}.");
            }

            if (writerConfigured && options.DrainTimeout < TimeSpan.Zero)
            {
                throw new InvalidOperationException($"Edge:Audit:DrainTimeout must not be negative (default 00:00:10), not {options.DrainTimeout}.");
            }

            if (!writerConfigured && !string.IsNullOrEmpty(options.LocalFile) && options.LocalQueueCapacity <= 0)
            {
                throw new InvalidOperationException($"Edge:Audit:LocalQueueCapacity must be positive (default 65536), not {options.LocalQueueCapacity}.");
            }
        }

        public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => _shipping?.StopAsync(cancellationToken) ?? Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
