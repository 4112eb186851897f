using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>A ban change Redis answers too late for the management call: what the caller is told, and what is audited.</summary>
public sealed class ThreatMonitorSlowRedisTests : IAsyncLifetime
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private RedisServer _redis = null!;
    private EdgeMetrics _metrics = null!;

    public async Task InitializeAsync()
    {
        _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _redis = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _redis.Resume();
        await _redis.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task BanAsync_RedisAnswersAfterTheDeadline_OutcomeUnknownThenAuditedOnceApplied()
    {
        using var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        var audit = new RecordingThreatSink();
        var monitor = ThreatMonitors.Create(_metrics, redis, audit);

        _redis.Pause();
        var pending = monitor.BanAsync("203.0.113.80", TimeSpan.FromMinutes(10), "incident");
        await Assert.ThrowsAsync<BanOutcomeUnknownException>(() => pending);
        _redis.Resume();

        // Before, the caller was told to retry (503 ban_store_unavailable) while Redis applied the ban a moment later:
        // every instance refused the client, with no audit record and no log line.
        await WaitUntilAsync(() => !audit.BannedKeys.IsEmpty);
        Assert.Equal(["203.0.113.80"], audit.BannedKeys);
        Assert.NotNull(ThreatMonitors.Blocked(monitor, "203.0.113.80"));
        using var admin = _redis.Connect();
        Assert.NotNull(await admin.GetDatabase().SortedSetScoreAsync(RedisBanStore.BansKey, "203.0.113.80"));
    }

    [Fact]
    public async Task UnbanAsync_RedisAnswersAfterTheDeadline_OutcomeUnknownThenAuditedOnceLifted()
    {
        using var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        var audit = new RecordingThreatSink();
        var monitor = ThreatMonitors.Create(_metrics, redis, audit);
        await monitor.BanAsync("203.0.113.81", TimeSpan.FromMinutes(10), "incident");

        _redis.Pause();
        var pending = monitor.UnbanAsync("203.0.113.81");
        await Assert.ThrowsAsync<BanOutcomeUnknownException>(() => pending);
        _redis.Resume();

        await WaitUntilAsync(() => !audit.UnbannedKeys.IsEmpty);
        Assert.Equal(["203.0.113.81"], audit.UnbannedKeys);
        Assert.Null(ThreatMonitors.Blocked(monitor, "203.0.113.81"));
    }

    [Fact]
    public async Task ObserveAsync_ThresholdCountAnsweredAfterTheDeadline_BanAuditedOnce()
    {
        using var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        var audit = new RecordingThreatSink();
        var monitor = ThreatMonitors.Create(_metrics, redis, audit, new Dictionary<string, ThreatRuleOptions>
        {
            ["scan"] = new() { On = ["NotFound"], Key = "{ip}", Threshold = 2, Window = TimeSpan.FromMinutes(1), BanFor = TimeSpan.FromMinutes(5) },
        });
        // One event counted in Redis already (written directly: a first count that itself took over 250 ms on a busy
        // host would be kept locally, and the local count would then start the ban).
        using (var admin = _redis.Connect())
        {
            await admin.GetDatabase().StringSetAsync(RedisBanStore.CountPrefix + "scan:203.0.113.82", 1, TimeSpan.FromMinutes(1));
        }

        // The second event reaches the threshold in Redis, which answers after the 250 ms the count may wait.
        _redis.Pause();
        await monitor.ObserveAsync(Unrouted("203.0.113.82"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        _redis.Resume();

        // Before, Redis started the ban (every instance enforced it through the channel) and no instance audited it.
        await WaitUntilAsync(() => !audit.BannedKeys.IsEmpty);
        Assert.Equal(["203.0.113.82"], audit.BannedKeys);
        Assert.NotNull(ThreatMonitors.Blocked(monitor, "203.0.113.82"));
        await Task.Delay(500);
        Assert.Single(audit.BannedKeys);
    }

    [Fact]
    public async Task ObserveAsync_RedisStallsWhileRefusalsKeepComing_OneCountFailedWarningPerRulePerMinute()
    {
        // Warning 2303 was written for every refusal Redis did not count in time: while Redis stalled, any client
        // sending bad requests wrote one log line per request.
        using var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var monitor = ThreatMonitors.Create(_metrics, redis, new RecordingThreatSink(), new Dictionary<string, ThreatRuleOptions>
        {
            ["scan"] = new() { On = ["NotFound"], Key = "{ip}", Threshold = 1000, Window = TimeSpan.FromMinutes(1), BanFor = TimeSpan.FromMinutes(5) },
        }, time, new LoggerFactory([logs]).CreateLogger<ThreatMonitor>());

        _redis.Pause();
        for (var i = 0; i < 4; i++)
        {
            await monitor.ObserveAsync(Unrouted("203.0.113.90"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        }

        Assert.Single(logs.Entries, e => e.Id.Id == 2303);

        time.Advance(ThreatMonitor.LogInterval);
        await monitor.ObserveAsync(Unrouted("203.0.113.90"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        _redis.Resume();

        var failed = logs.Values.Where(e => e.Id.Id == 2303).ToList();
        Assert.Equal(2, failed.Count);
        Assert.Equal(3L, failed[1].Values.Single(v => v.Key == "Unlogged").Value);
    }

    [Fact]
    public async Task ObserveAsync_RedisConnectionLost_CountedHereWithOneCountFailedWarningPerRulePerMinute()
    {
        // The same outage was silent once the client library had given the connection up (and logged 2303 while it still
        // called it connected): the stalled-Redis test above failed on a slow host when the connection dropped mid-test.
        using var redis = new EdgeRedis(_redis.ConnectionString);
        await redis.ConnectAsync();
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var monitor = ThreatMonitors.Create(_metrics, redis, new RecordingThreatSink(), new Dictionary<string, ThreatRuleOptions>
        {
            ["scan"] = new() { On = ["NotFound"], Key = "{ip}", Threshold = 3, Window = TimeSpan.FromMinutes(1), BanFor = TimeSpan.FromMinutes(5) },
        }, time, new LoggerFactory([logs]).CreateLogger<ThreatMonitor>());

        _redis.Kill();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (redis.Multiplexer!.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.False(redis.Multiplexer.IsConnected);
        for (var i = 0; i < 3; i++)
        {
            await monitor.ObserveAsync(Unrouted("203.0.113.91"), EdgeRequestMiddleware.EdgeStepName, NotFound);
        }

        var failed = Assert.Single(logs.Values, e => e.Id.Id == 2303);
        Assert.Equal("NotConnected", failed.Values.Single(v => v.Key == "Error").Value);
        Assert.NotNull(ThreatMonitors.Blocked(monitor, "203.0.113.91"));

        time.Advance(ThreatMonitor.LogInterval);
        await monitor.ObserveAsync(Unrouted("203.0.113.92"), EdgeRequestMiddleware.EdgeStepName, NotFound);

        var lines = logs.Values.Where(e => e.Id.Id == 2303).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(2L, lines[1].Values.Single(v => v.Key == "Unlogged").Value);
    }

    private static readonly EdgeDenial NotFound = new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found");

    private static DefaultHttpContext Unrouted(string ip)
    {
        var http = new DefaultHttpContext();
        http.Features.Set(new EdgeRequestFeature { RequestId = "r", RouteId = null, StartedAt = DateTimeOffset.UnixEpoch, ClientIp = ip });
        return http;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }
}
