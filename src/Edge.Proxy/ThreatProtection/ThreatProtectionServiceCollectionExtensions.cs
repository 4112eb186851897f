using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.ThreatProtection;

internal static class ThreatProtectionServiceCollectionExtensions
{
    /// <summary>Ban rules and bans; ban changes go to the <see cref="IThreatEventSink"/> the audit capability registers.</summary>
    public static IServiceCollection AddEdgeThreatProtection(this IServiceCollection services)
    {
        services.AddSingleton<ThreatMetrics>();
        services.AddSingleton<ThreatMonitor>();
        services.AddSingleton<IEdgeThreatGate>(sp => sp.GetRequiredService<ThreatMonitor>());
        services.AddSingleton<IConfigEventSink>(sp => sp.GetRequiredService<ThreatMonitor>());
        services.AddHostedService<BanSynchronizer>();
        return services;
    }
}
