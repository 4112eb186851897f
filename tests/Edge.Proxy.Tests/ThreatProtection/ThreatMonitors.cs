using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Redis;
using Edge.Proxy.ThreatProtection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>A real in-process <see cref="ThreatMonitor"/> (no Redis, no audit writer) over the given rules.</summary>
internal static class ThreatMonitors
{
    public static ThreatMonitor InProcess(EdgeMetrics metrics, IReadOnlyDictionary<string, ThreatRuleOptions>? rules = null, TimeProvider? time = null)
    {
        var state = new EdgeConfigState();
        var edge = EdgeSection.Empty.With(ThreatProtectionSection.Descriptor, new ThreatProtectionOptions { Rules = rules ?? new Dictionary<string, ThreatRuleOptions>() });
        state.Applied(new EdgeProxyConfig([], [], edge, new string('0', 64), 1), [], DateTimeOffset.UtcNow);
        time ??= TimeProvider.System;
        return new ThreatMonitor(
            state,
            new EdgeRedis(null),
            new ThreatMetrics(metrics),
            new ThreatAuditEventSink(new SecurityEventWriter(null, new EdgeHostOptions(), time, NullLogger<SecurityEventWriter>.Instance)),
            time,
            NullLogger<ThreatMonitor>.Instance);
    }
}
