using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>
/// <c>Edge:ThreatProtection:MaxBans</c> on the shared bans, against a real redis-server: 20,000 bans made with
/// made-up header values grew Redis (and every instance's replica) without a bound.
/// </summary>
public sealed class ThreatMonitorSharedCapTests : IAsyncLifetime
{
    private static readonly EdgeDenial NotFound = new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found");

    private static readonly Dictionary<string, ThreatRuleOptions> Rules = new()
    {
        ["scan-ip"] = new() { On = ["NotFound"], Key = "{ip}", Threshold = 1, BanFor = TimeSpan.FromMinutes(10) },
        ["scan-device"] = new() { On = ["NotFound"], Key = "{header:X-Device}", Threshold = 1, BanFor = TimeSpan.FromMinutes(10) },
    };

    // Advanced a millisecond per ban, so that bans end in the order they were made (Redis orders equal ends by key).
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private RedisServer _redis = null!;
    private EdgeMetrics _metrics = null!;

    public async Task InitializeAsync()
    {
        _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _redis = await RedisServer.StartAsync();
    }

    private async Task<EdgeRedis> ConnectAsync()
    {
        var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        return redis;
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task ObserveAsync_HeaderFloodOnOneInstance_RedisHoldsTheCapAddressBansStayEverywhereOnlyTheCounterAudits()
    {
        using var redisA = await ConnectAsync();
        using var redisB = await ConnectAsync();
        var sinkA = new RecordingThreatSink();
        var sinkB = new RecordingThreatSink();
        var a = ThreatMonitors.Capped(_metrics, redisA, sinkA, maxBans: 20, Rules, _time);
        var b = ThreatMonitors.Capped(_metrics, redisB, sinkB, maxBans: 20, Rules, _time);
        for (var i = 0; i < 5; i++)
        {
            await a.ObserveAsync(ThreatMonitors.Request("10.0.0." + i), EdgeRequestMiddleware.EdgeStepName, NotFound);
        }

        for (var i = 0; i < 200; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await a.ObserveAsync(ThreatMonitors.Request(null, device: "d" + i), EdgeRequestMiddleware.EdgeStepName, NotFound);
        }

        await a.SyncAsync();
        await b.SyncAsync();
        using var admin = _redis.Connect();
        var database = admin.GetDatabase();

        Assert.Equal(20, await database.SortedSetLengthAsync(RedisBanStore.BansKey));
        Assert.Equal(20, await database.HashLengthAsync(RedisBanStore.InfoKey));
        Assert.Equal(15, await database.SortedSetLengthAsync(RedisBanStore.EvictablePrefix + "0"));
        Assert.Equal(5, await database.SortedSetLengthAsync(RedisBanStore.EvictablePrefix + "1"));
        Assert.Equal(20, a.ListEnforced().Count);
        Assert.Equal(20, b.ListEnforced().Count);
        Assert.All(Enumerable.Range(0, 5), i => Assert.NotNull(ThreatMonitors.Blocked(b, "10.0.0." + i)));
        Assert.Equal(Enumerable.Range(0, 185).Select(i => "d" + i), sinkA.EvictedKeys);
        Assert.Empty(sinkB.UnbannedKeys);
        Assert.Null(ThreatMonitors.Blocked(b, null, "d184"));
        Assert.NotNull(ThreatMonitors.Blocked(b, null, "d199"));
    }

    [Fact]
    public async Task BanAsync_SharedTableFullOfManualBans_RefusedEverywhereAndRuleBansNotKept()
    {
        using var redisA = await ConnectAsync();
        using var redisB = await ConnectAsync();
        var sinkA = new RecordingThreatSink();
        var a = ThreatMonitors.Capped(_metrics, redisA, sinkA, maxBans: 3, Rules, _time);
        var b = ThreatMonitors.Capped(_metrics, redisB, new RecordingThreatSink(), maxBans: 3, Rules, _time);
        await a.ObserveAsync(ThreatMonitors.Request("10.0.0.1"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        for (var i = 0; i < 3; i++)
        {
            await a.BanAsync("10.1.0." + i, TimeSpan.FromMinutes(10), "incident");
        }

        await Assert.ThrowsAsync<BanTableFullException>(() => b.BanAsync("10.1.0.9", TimeSpan.FromMinutes(10), "incident"));
        await b.ObserveAsync(ThreatMonitors.Request("10.0.0.2"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        await a.SyncAsync();
        await b.SyncAsync();

        using var admin = _redis.Connect();
        Assert.Equal(["10.1.0.0", "10.1.0.1", "10.1.0.2"], (await admin.GetDatabase().SortedSetRangeByRankAsync(RedisBanStore.BansKey)).Select(m => (string)m!).Order());
        Assert.Equal(["10.0.0.1"], sinkA.EvictedKeys);
        Assert.Null(ThreatMonitors.Blocked(a, "10.0.0.1"));
        Assert.Null(ThreatMonitors.Blocked(b, "10.0.0.2"));
        Assert.Null(ThreatMonitors.Blocked(b, "10.1.0.9"));
        Assert.NotNull(ThreatMonitors.Blocked(b, "10.1.0.2"));
    }
}
