using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.ThreatProtection;

internal static class ThreatProtectionServiceCollectionExtensions
{
    /// <summary>Idempotent: the route rate-limiter policy, usable without the edge pipeline, registers it too (via <see cref="Pipeline.EdgeDecisions"/>).</summary>
    public static IServiceCollection AddEdgeThreatProtection(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(ThreatMonitor)))
        {
            return services;
        }

        services.AddOptions<EdgeAuditOptions>();
        services.AddSingleton<ThreatMetrics>();
        services.AddSingleton(sp => new ThreatAuditEvents(
            string.IsNullOrEmpty(sp.GetRequiredService<IOptions<EdgeAuditOptions>>().Value.WriterUrl) ? null : sp.GetRequiredService<SpoolAuditSink>().Spool,
            sp.GetRequiredService<EdgeHostOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ThreatAuditEvents>>()));
        services.AddSingleton<ThreatMonitor>();
        services.AddHostedService<BanSynchronizer>();
        return services;
    }
}
