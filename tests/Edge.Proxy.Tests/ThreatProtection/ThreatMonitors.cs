using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;
using Edge.Proxy.ThreatProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>A real in-process <see cref="ThreatMonitor"/> (no Redis, no audit writer) over the given rules.</summary>
internal static class ThreatMonitors
{
    public static ThreatMonitor InProcess(
        EdgeMetrics metrics, IReadOnlyDictionary<string, ThreatRuleOptions>? rules = null, TimeProvider? time = null, ILogger<ThreatMonitor>? logger = null)
    {
        time ??= TimeProvider.System;
        return Create(metrics, new EdgeRedis(null),
            new ThreatAuditEventSink(new SecurityEventWriter(null, new EdgeHostOptions(), time, NullLogger<SecurityEventWriter>.Instance)), rules, time, logger);
    }

    /// <summary>A monitor whose ban table holds at most <paramref name="maxBans"/> bans (<c>Edge:ThreatProtection:MaxBans</c>).</summary>
    public static ThreatMonitor Capped(
        EdgeMetrics metrics, EdgeRedis redis, IThreatEventSink audit, int maxBans, IReadOnlyDictionary<string, ThreatRuleOptions> rules, TimeProvider? time = null,
        ILogger<ThreatMonitor>? logger = null) =>
        Create(metrics, redis, audit, rules, time, logger, maxBans);

    /// <summary>A monitor on the given Redis (or none) that reports its ban events to <paramref name="audit"/>.</summary>
    public static ThreatMonitor Create(
        EdgeMetrics metrics, EdgeRedis redis, IThreatEventSink audit, IReadOnlyDictionary<string, ThreatRuleOptions>? rules = null, TimeProvider? time = null,
        ILogger<ThreatMonitor>? logger = null, int maxBans = ThreatProtectionOptions.DefaultMaxBans)
    {
        var state = new EdgeConfigState();
        var edge = EdgeSection.Empty.With(
            ThreatProtectionSection.Descriptor, new ThreatProtectionOptions { Rules = rules ?? new Dictionary<string, ThreatRuleOptions>(), MaxBans = maxBans });
        state.Applied(new EdgeProxyConfig([], [], edge, new string('0', 64), 1), [], DateTimeOffset.UtcNow);
        return new ThreatMonitor(
            state,
            redis,
            new ThreatMetrics(metrics),
            audit,
            time ?? TimeProvider.System,
            logger ?? NullLogger<ThreatMonitor>.Instance);
    }

    /// <summary>
    /// What the check before the steps answers a request from <paramref name="ip"/> (with <c>X-Device</c> =
    /// <paramref name="device"/> when given): the 403 while it is banned, else null.
    /// </summary>
    public static EdgeDenial? Blocked(ThreatMonitor monitor, string? ip, string? device = null)
    {
        var http = Request(ip, device);
        return monitor.CheckBeforeSteps(http, http.GetEdgeRequest()!);
    }

    /// <summary>A request on route <c>orders</c> from <paramref name="ip"/> (none: no address to key on), with <c>X-Device</c> when given.</summary>
    public static DefaultHttpContext Request(string? ip, string? device = null)
    {
        var http = new DefaultHttpContext();
        http.Features.Set(new EdgeRequestFeature { RequestId = "r", RouteId = "orders", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = ip });
        if (device is not null)
        {
            http.Request.Headers["X-Device"] = device;
        }

        return http;
    }
}
