using Edge.Proxy.Observability;
using Edge.Proxy.Redis;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>DELETE /edge/bans/{key} says what happened: a ban that has just ended is not "lifted", and not audited.</summary>
public sealed class ThreatMonitorUnbanTests : IAsyncLifetime
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly RecordingThreatSink _audit = new();
    private RedisServer _redis = null!;

    // No outage here: Redis's own 5 s timeout, as in production, so a loaded CI host does not turn a slow call into a failure.
    private string PatientRedis => _redis.ConnectionString + ",syncTimeout=5000,asyncTimeout=5000";
    private EdgeMetrics _metrics = null!;

    public async Task InitializeAsync()
    {
        _metrics = new EdgeMetrics(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        _redis = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task UnbanAsync_InProcessBanEndedOnTheClock_FalseAndNotAudited()
    {
        var monitor = ThreatMonitors.Create(_metrics, new EdgeRedis(null), _audit, time: _time);
        await monitor.BanAsync("10.0.0.20", TimeSpan.FromSeconds(30), "incident");

        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.False(await monitor.UnbanAsync("10.0.0.20"));
        Assert.Empty(_audit.UnbannedKeys);
    }

    [Fact]
    public async Task UnbanAsync_InProcessBanStillRunning_TrueAndAuditedOnce()
    {
        var monitor = ThreatMonitors.Create(_metrics, new EdgeRedis(null), _audit, time: _time);
        await monitor.BanAsync("10.0.0.21", TimeSpan.FromSeconds(30), "incident");

        _time.Advance(TimeSpan.FromSeconds(29));

        Assert.True(await monitor.UnbanAsync("10.0.0.21"));
        Assert.False(await monitor.UnbanAsync("10.0.0.21"));
        Assert.Equal(["10.0.0.21"], _audit.UnbannedKeys);
    }

    [Fact]
    public async Task UnbanAsync_RedisBanEndedButNotYetReloaded_FalseNotAuditedAndRemoved()
    {
        using var redis = new EdgeRedis(PatientRedis);
        var connection = (await redis.ConnectAsync())!;
        var monitor = ThreatMonitors.Create(_metrics, redis, _audit, time: _time);
        await monitor.BanAsync("10.0.0.22", TimeSpan.FromSeconds(30), "incident");

        // Ended on the clock; no reload ran since, so Redis still holds the entry (a reload drops ended bans).
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.NotNull(await connection.GetDatabase().SortedSetScoreAsync(RedisBanStore.BansKey, "10.0.0.22"));

        Assert.False(await monitor.UnbanAsync("10.0.0.22"));
        Assert.Empty(_audit.UnbannedKeys);
        Assert.Null(await connection.GetDatabase().SortedSetScoreAsync(RedisBanStore.BansKey, "10.0.0.22"));
    }

    [Fact]
    public async Task UnbanAsync_RedisBanLiftedByAnotherInstance_FalseAlthoughTheReplicaStillShowsIt()
    {
        using var redis = new EdgeRedis(PatientRedis);
        using var otherRedis = new EdgeRedis(PatientRedis);
        await redis.ConnectAsync();
        await otherRedis.ConnectAsync();
        var monitor = ThreatMonitors.Create(_metrics, redis, _audit, time: _time);
        var other = ThreatMonitors.Create(_metrics, otherRedis, new RecordingThreatSink(), time: _time);
        await monitor.BanAsync("10.0.0.23", TimeSpan.FromMinutes(5), "incident");

        Assert.True(await other.UnbanAsync("10.0.0.23"));

        // This monitor's table learned the ban when it added it and has not reloaded since.
        Assert.False(await monitor.UnbanAsync("10.0.0.23"));
        Assert.Empty(_audit.UnbannedKeys);
    }

    [Fact]
    public async Task UnbanAsync_RedisBanRunning_TrueAndAuditedOnce()
    {
        using var redis = new EdgeRedis(PatientRedis);
        await redis.ConnectAsync();
        var monitor = ThreatMonitors.Create(_metrics, redis, _audit, time: _time);
        await monitor.BanAsync("10.0.0.24", TimeSpan.FromSeconds(30), "incident");

        _time.Advance(TimeSpan.FromSeconds(29));

        Assert.True(await monitor.UnbanAsync("10.0.0.24"));
        Assert.False(await monitor.UnbanAsync("10.0.0.24"));
        Assert.Equal(["10.0.0.24"], _audit.UnbannedKeys);
    }

    [Fact]
    public async Task UnbanAsync_RedisStalledForLessThanItsOwnTimeout_LiftsInsteadOfFailing()
    {
        using var redis = new EdgeRedis(PatientRedis);
        await redis.ConnectAsync();
        var monitor = ThreatMonitors.Create(_metrics, redis, _audit, time: _time);
        await monitor.BanAsync("10.0.0.25", TimeSpan.FromMinutes(5), "incident");

        // A stall longer than the request path's Redis deadline (1 s for shared bans) but within Redis's own timeout: an
        // operator's lift waits for Redis's answer rather than reporting a failure the removal may later contradict.
        _redis.Pause();
        var unban = monitor.UnbanAsync("10.0.0.25");
        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        _redis.Resume();

        Assert.True(await unban);
        Assert.Equal(["10.0.0.25"], _audit.UnbannedKeys);
    }

    [Fact]
    public async Task UnbanAsync_BanCountedAloneWhileRedisWasDown_LiftedDuringTheOutageAndAfterIt()
    {
        // An operator could not unblock a client wrongly banned during an outage (503 ban_store_unavailable), and once
        // Redis was back the lift removed the ban but answered "not found" without an audit record.
        using var redis = new EdgeRedis(PatientRedis);
        await redis.ConnectAsync();
        var rules = new Dictionary<string, Edge.Configuration.ThreatProtection.ThreatRuleOptions>
        {
            ["ip-auth"] = new() { On = ["AuthenticationFailed"], Key = "{ip}", Threshold = 2, Window = TimeSpan.FromMinutes(1), BanFor = TimeSpan.FromMinutes(10) },
        };
        var monitor = ThreatMonitors.Create(_metrics, redis, _audit, rules, _time);
        var badToken = new Edge.Proxy.Pipeline.EdgeDenial(401, Edge.Configuration.Authorization.AuthenticationCodes.TokenInvalid, "Unauthorized");

        _redis.Kill();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (redis.Multiplexer!.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        foreach (var ip in new[] { "10.0.0.26", "10.0.0.26", "10.0.0.27", "10.0.0.27" })
        {
            await monitor.ObserveAsync(Request(ip), Edge.Configuration.Authorization.AuthenticateStepValidator.StepName, badToken);
        }

        Assert.NotNull(ThreatMonitors.Blocked(monitor, "10.0.0.26"));
        Assert.NotNull(ThreatMonitors.Blocked(monitor, "10.0.0.27"));
        Assert.True(await monitor.UnbanAsync("10.0.0.26"));
        Assert.Null(ThreatMonitors.Blocked(monitor, "10.0.0.26"));

        await _redis.RestartAsync();
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (!redis.Multiplexer.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(await monitor.UnbanAsync("10.0.0.27"));
        Assert.Null(ThreatMonitors.Blocked(monitor, "10.0.0.27"));
        Assert.Equal(["10.0.0.26", "10.0.0.27"], _audit.UnbannedKeys);
    }

    private static Microsoft.AspNetCore.Http.DefaultHttpContext Request(string ip)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Features.Set(new Edge.Proxy.Pipeline.EdgeRequestFeature { RequestId = "r", RouteId = "orders", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = ip });
        return http;
    }
}
