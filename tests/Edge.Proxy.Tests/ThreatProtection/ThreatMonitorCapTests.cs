using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Proxy.ThreatProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>
/// <c>Edge:ThreatProtection:MaxBans</c> on this instance's own table (no Redis): a rule keyed on a header let one client
/// make any number of bans, 20,000 of them adding 10-30 MB to the edge.
/// </summary>
public sealed class ThreatMonitorCapTests : IDisposable
{
    private const string Step = EdgeRequestMiddleware.EdgeStepName;
    private static readonly EdgeDenial NotFound = new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found");

    private static readonly Dictionary<string, ThreatRuleOptions> Rules = new()
    {
        ["scan-ip"] = new() { On = ["NotFound"], Key = "{ip}", Threshold = 1, BanFor = TimeSpan.FromMinutes(10) },
        ["scan-device"] = new() { On = ["NotFound"], Key = "{header:X-Device}", Threshold = 1, BanFor = TimeSpan.FromMinutes(10) },
    };

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly EdgeMetrics _metrics;

    public ThreatMonitorCapTests() => _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task ObserveAsync_HeaderKeyedFloodBeyondTheCap_TableStaysAtTheCapAndAddressBansStay()
    {
        var sink = new RecordingThreatSink();
        var monitor = ThreatMonitors.Capped(_metrics, new EdgeRedis(null), sink, maxBans: 50, Rules, _time);
        for (var i = 0; i < 10; i++)
        {
            await monitor.ObserveAsync(ThreatMonitors.Request("10.0.0." + i), Step, NotFound);
        }

        // A client with a new device header per request (its address left out, so that only scan-device counts it).
        for (var i = 0; i < 500; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await monitor.ObserveAsync(ThreatMonitors.Request(null, device: "d" + i), Step, NotFound);
        }

        Assert.Equal(50, monitor.ListEnforced().Count);
        Assert.All(Enumerable.Range(0, 10), i => Assert.NotNull(ThreatMonitors.Blocked(monitor, "10.0.0." + i)));
        // The newest ban always gets in: a flood cannot keep a new offender from being banned.
        Assert.NotNull(ThreatMonitors.Blocked(monitor, null, "d499"));
        // The soonest-ending header bans went first, each audited as a lift by the cap.
        Assert.Equal(Enumerable.Range(0, 460).Select(i => "d" + i), sink.EvictedKeys);
        Assert.Null(ThreatMonitors.Blocked(monitor, null, "d459"));
        Assert.NotNull(ThreatMonitors.Blocked(monitor, null, "d460"));
    }

    [Fact]
    public async Task ObserveAsync_TableFullOfAddressBans_HeaderBanNotKeptAndANewAddressBanEvictsTheSoonestEnding()
    {
        var sink = new RecordingThreatSink();
        using var logs = new CapturedLogs();
        var monitor = ThreatMonitors.Capped(_metrics, new EdgeRedis(null), sink, maxBans: 3, Rules, _time, new LoggerFactory([logs]).CreateLogger<ThreatMonitor>());
        foreach (var ip in (string[])["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        {
            await monitor.ObserveAsync(ThreatMonitors.Request(ip), Step, NotFound);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await monitor.ObserveAsync(ThreatMonitors.Request(null, device: "d-1"), Step, NotFound);
        Assert.Null(ThreatMonitors.Blocked(monitor, null, "d-1"));
        Assert.Empty(sink.EvictedKeys);

        await monitor.ObserveAsync(ThreatMonitors.Request("10.0.0.4"), Step, NotFound);

        Assert.Equal(["10.0.0.2", "10.0.0.3", "10.0.0.4"], monitor.ListEnforced().Select(b => b.Key));
        Assert.Equal(["10.0.0.1"], sink.EvictedKeys);
        Assert.Null(ThreatMonitors.Blocked(monitor, "10.0.0.1"));
        // Two cap decisions within a minute: one warning line.
        Assert.Single(logs.Entries, e => e.Id.Id == 2310);
    }

    [Fact]
    public async Task BanAsync_TableFullOfManualBans_RefusedAndNoBanEvicted()
    {
        var sink = new RecordingThreatSink();
        var monitor = ThreatMonitors.Capped(_metrics, new EdgeRedis(null), sink, maxBans: 2, Rules, _time);
        await monitor.ObserveAsync(ThreatMonitors.Request("10.0.0.1"), Step, NotFound);
        await monitor.BanAsync("10.0.0.8", TimeSpan.FromMinutes(5), "incident");

        // A manual ban evicts a rule's ban...
        await monitor.BanAsync("10.0.0.9", TimeSpan.FromHours(1), "incident");
        Assert.Equal(["10.0.0.1"], sink.EvictedKeys);

        // ...but never another manual ban, and a rule's ban never evicts one either.
        var full = await Assert.ThrowsAsync<BanTableFullException>(() => monitor.BanAsync("10.0.0.10", TimeSpan.FromMinutes(5), "incident"));
        await monitor.ObserveAsync(ThreatMonitors.Request("10.0.0.11"), Step, NotFound);

        Assert.Equal(2, full.MaxBans);
        Assert.Equal(["10.0.0.8", "10.0.0.9"], monitor.ListEnforced().Select(b => b.Key));
        Assert.Null(ThreatMonitors.Blocked(monitor, "10.0.0.10"));
        Assert.Null(ThreatMonitors.Blocked(monitor, "10.0.0.11"));
        // A manual ban of a key already banned replaces it and needs no room.
        await monitor.BanAsync("10.0.0.9", TimeSpan.FromHours(2), "longer");
        Assert.Single(sink.EvictedKeys);
    }

    [Fact]
    public async Task ObserveAsync_ManyParallelRefusalsWithNewKeys_TableHoldsTheCapAndEveryBanIsInItOrEvicted()
    {
        var sink = new RecordingThreatSink();
        var monitor = ThreatMonitors.Capped(_metrics, new EdgeRedis(null), sink, maxBans: 100, Rules, TimeProvider.System);
        var ready = 0;
        var go = false;
        var workers = Enumerable.Range(0, 8)
            .Select(w => Task.Run(async () =>
            {
                Interlocked.Increment(ref ready);
                while (!Volatile.Read(ref go))
                {
                    Thread.SpinWait(1);
                }

                for (var i = 0; i < 1_000; i++)
                {
                    // Half on a client-chosen key, half on an address: both ranks compete for the same table.
                    await monitor.ObserveAsync(i % 2 == 0 ? ThreatMonitors.Request(null, $"w{w}-{i}") : ThreatMonitors.Request($"10.{w}.{i / 250}.{i % 250}"), Step, NotFound);
                }
            }))
            .ToArray();
        while (Volatile.Read(ref ready) < workers.Length)
        {
            Thread.SpinWait(1);
        }

        Volatile.Write(ref go, true);
        await Task.WhenAll(workers);

        var table = monitor.ListEnforced();
        Assert.Equal(100, table.Count);
        // Every address ban made after the table filled evicted a header ban first: address bans fill it.
        Assert.All(table, b => Assert.Equal("scan-ip", b.Rule));
        Assert.Equal(sink.BannedKeys.Count - 100, sink.EvictedKeys.Count);
        Assert.Equal(sink.BannedKeys.Except(sink.EvictedKeys).Order(), table.Select(b => b.Key).Order());
    }
}
