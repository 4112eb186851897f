using Edge.Audit.Spool;
using Edge.Proxy.Configuration;
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
        services.AddSingleton<IAuditSink>(sp => string.IsNullOrEmpty(sp.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl)
            ? sp.GetRequiredService<LoggingAuditSink>()
            : sp.GetRequiredService<SpoolAuditSink>());
        services.AddSingleton<SecretRotationDetector>();
        services.AddSingleton<IConfigEventSink>(sp => new ConfigAuditEventSink(
            string.IsNullOrEmpty(sp.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl) ? null : sp.GetRequiredService<SpoolAuditSink>().Spool,
            sp.GetRequiredService<EdgeHostOptions>(),
            sp.GetRequiredService<SecretRotationDetector>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ConfigAuditEventSink>>()));
        services.AddSingleton<AuditShippingService>();
        services.AddHostedService(sp => new ConditionalShipping(sp));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(SpoolMetrics.MeterName));
        return services;
    }

    /// <summary>Starts shipping only when a writer is configured (resolving the spool opens and recovers it).</summary>
    private sealed class ConditionalShipping(IServiceProvider services) : IHostedService
    {
        private AuditShippingService? _shipping;

        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (string.IsNullOrEmpty(services.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl))
            {
                return Task.CompletedTask;
            }

            _shipping = services.GetRequiredService<AuditShippingService>();
            return _shipping.StartAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => _shipping?.StopAsync(cancellationToken) ?? Task.CompletedTask;
    }
}
