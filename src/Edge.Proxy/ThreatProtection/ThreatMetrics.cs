using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Edge.Proxy.Observability;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// <c>edge_threat_bans_total{rule}</c>, <c>edge_threat_blocked_total{route}</c>, <c>edge_threat_events_total{rule,event}</c>, and
/// the cap's signals: <c>edge_threat_bans_active</c>, <c>edge_threat_bans_evicted_total{rule}</c> and <c>edge_threat_bans_not_kept_total{rule}</c>.
/// </summary>
internal sealed class ThreatMetrics
{
    /// <summary>The <c>rule</c> tag of a ban added on the management port.</summary>
    public const string ManualRule = "manual";

    private readonly Counter<long> _bans;
    private readonly Counter<long> _blocked;
    private readonly Counter<long> _events;
    private readonly Counter<long> _evicted;
    private readonly Counter<long> _notKept;
    private int _active;

    public ThreatMetrics(EdgeMetrics metrics)
    {
        _bans = metrics.Meter.CreateCounter<long>("edge.threat.bans", description: "Bans started, by rule (manual for the management port).");
        _blocked = metrics.Meter.CreateCounter<long>("edge.threat.blocked", description: "Requests refused with client_blocked, by route.");
        _events = metrics.Meter.CreateCounter<long>("edge.threat.events", description: "Denials counted by ban rules, by rule and event.");
        _evicted = metrics.Meter.CreateCounter<long>("edge.threat.bans.evicted",
            description: "Running bans removed before their end to make room for a new ban (Edge:ThreatProtection:MaxBans), by the evicted ban's rule.");
        _notKept = metrics.Meter.CreateCounter<long>("edge.threat.bans.not_kept",
            description: "New bans not added because the ban table was full of bans the cap keeps first, by rule (manual: refused on the management port).");
        metrics.Meter.CreateObservableGauge("edge.threat.bans.active", () => Volatile.Read(ref _active),
            description: "Bans in this instance's table (running, or ended and not yet pruned).");
    }

    /// <summary>
    /// Exports the ban counters of <paramref name="rules"/> and of manual bans at 0 (adding 0 to a series that exists changes nothing). A
    /// counter is exported only once it has a measurement: a rule's series appeared at its first scrape's count, and
    /// increase() over it, which the alerts read, was 0 for a flood that filled the table within one scrape interval.
    /// </summary>
    public void Declare(IEnumerable<string> rules)
    {
        // Made here rather than in the constructor: a measurement taken before the exporter listens is lost, and the
        // config provider that reports the applied config is built before the exporter.
        _bans.Add(0, new TagList { { "rule", ManualRule } });
        _notKept.Add(0, new TagList { { "rule", ManualRule } });
        foreach (var rule in rules)
        {
            var tags = new TagList { { "rule", rule } };
            _bans.Add(0, tags);
            _evicted.Add(0, tags);
            _notKept.Add(0, tags);
        }
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

    public void Evicted(string? rule)
    {
        if (_evicted.Enabled)
        {
            AddEvicted(rule);
        }
    }

    public void NotKept(string? rule)
    {
        if (_notKept.Enabled)
        {
            AddNotKept(rule);
        }
    }

    /// <summary>The table's size now; the gauge reads the last value.</summary>
    public void Active(int bans) => Volatile.Write(ref _active, bans);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddEvicted(string? rule) => _evicted.Add(1, new TagList { { "rule", rule ?? ManualRule } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddNotKept(string? rule) => _notKept.Add(1, new TagList { { "rule", rule ?? ManualRule } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddBanned(string? rule) => _bans.Add(1, new TagList { { "rule", rule ?? ManualRule } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddBlocked(string route) => _blocked.Add(1, new TagList { { "route", route } });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddCounted(string rule, string threatEvent) => _events.Add(1, new TagList { { "rule", rule }, { "event", threatEvent } });
}
