using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Edge.Proxy.Observability;

namespace Edge.Proxy.ThreatProtection;

/// <summary><c>edge_threat_bans_total{rule}</c>, <c>edge_threat_blocked_total{route}</c> and <c>edge_threat_events_total{rule,event}</c>.</summary>
internal sealed class ThreatMetrics
{
    /// <summary>The <c>rule</c> tag of a ban added on the management port.</summary>
    public const string ManualRule = "manual";

    private readonly Counter<long> _bans;
    private readonly Counter<long> _blocked;
    private readonly Counter<long> _events;

    public ThreatMetrics(EdgeMetrics metrics)
    {
        _bans = metrics.Meter.CreateCounter<long>("edge.threat.bans", description: "Bans started, by rule (manual for the management port).");
        _blocked = metrics.Meter.CreateCounter<long>("edge.threat.blocked", description: "Requests refused with client_blocked, by route.");
        _events = metrics.Meter.CreateCounter<long>("edge.threat.events", description: "Denials counted by ban rules, by rule and event.");
    }

    public void Banned(string? rule)
    {
        if (_bans.Enabled)
        {
            AddBanned(rule);
        }
    }

    public void Blocked(string route)
    {
        if (_blocked.Enabled)
        {
            AddBlocked(route);
        }
    }

    public void Counted(string rule, string threatEvent)
    {
        if (_events.Enabled)
        {
            AddCounted(rule, threatEvent);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddBanned(string? rule) => _bans.Add(1, new TagList { { "rule", rule ?? ManualRule } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddBlocked(string route) => _blocked.Add(1, new TagList { { "route", route } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddCounted(string rule, string threatEvent) => _events.Add(1, new TagList { { "rule", rule }, { "event", threatEvent } });
}
