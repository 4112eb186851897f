using Edge.Proxy.Observability;
using Edge.Proxy.Redis;
using Edge.Proxy.ThreatProtection;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.ThreatProtection;

/// <summary>A Redis that comes back without the bans (restarted empty, flushed) loses them, it does not lift them.</summary>
public sealed class ThreatMonitorRedisRestartTests : IAsyncLifetime
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
        await _redis.DisposeAsync();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task SyncAsync_RedisRestartedEmpty_BansStayInForceAndAreWrittenBack()
    {
        using var redisA = new EdgeRedis(_redis.ConnectionString);
        using var redisB = new EdgeRedis(_redis.ConnectionString);
        await redisA.ConnectAsync();
        await redisB.ConnectAsync();
        var a = ThreatMonitors.Create(_metrics, redisA, new RecordingThreatSink());
        var b = ThreatMonitors.Create(_metrics, redisB, new RecordingThreatSink());
        await a.SyncAsync();
        await b.SyncAsync();
        await a.BanAsync("10.0.0.40", TimeSpan.FromMinutes(10), "incident");
        await b.SyncAsync();
        Assert.NotNull(ThreatMonitors.Blocked(b, "10.0.0.40"));

        await _redis.RestartAsync();
        await WaitConnectedAsync(redisA);
        await WaitConnectedAsync(redisB);
        await b.SyncAsync();
        await a.SyncAsync();

        // Before, the first reload read the empty set as "lifted elsewhere": the client was let through everywhere.
        Assert.Equal("client_blocked:manual", ThreatMonitors.Blocked(b, "10.0.0.40")?.Reason);
        Assert.Equal("client_blocked:manual", ThreatMonitors.Blocked(a, "10.0.0.40")?.Reason);
        using var admin = _redis.Connect();
        Assert.NotNull(await admin.GetDatabase().SortedSetScoreAsync(RedisBanStore.BansKey, "10.0.0.40"));
        // A new instance, which never knew the ban, learns it from Redis.
        using var redisC = new EdgeRedis(_redis.ConnectionString);
        await redisC.ConnectAsync();
        var c = ThreatMonitors.Create(_metrics, redisC, new RecordingThreatSink());
        await c.SyncAsync();
        Assert.NotNull(ThreatMonitors.Blocked(c, "10.0.0.40"));
    }

    [Fact]
    public async Task SyncAsync_BanLiftedElsewhereAfterARestart_StaysLifted()
    {
        using var redisA = new EdgeRedis(_redis.ConnectionString);
        using var redisB = new EdgeRedis(_redis.ConnectionString);
        await redisA.ConnectAsync();
        await redisB.ConnectAsync();
        var a = ThreatMonitors.Create(_metrics, redisA, new RecordingThreatSink());
        var b = ThreatMonitors.Create(_metrics, redisB, new RecordingThreatSink());
        await a.SyncAsync();
        await b.SyncAsync();
        await b.BanAsync("10.0.0.41", TimeSpan.FromMinutes(10), "incident");
        await _redis.RestartAsync();
        await WaitConnectedAsync(redisA);
        await WaitConnectedAsync(redisB);
        await b.SyncAsync();
        await a.SyncAsync();

        Assert.True(await b.UnbanAsync("10.0.0.41"));
        await a.SyncAsync();
        await b.SyncAsync();

        Assert.Null(ThreatMonitors.Blocked(a, "10.0.0.41"));
        Assert.Null(ThreatMonitors.Blocked(b, "10.0.0.41"));
    }
    private static async Task WaitConnectedAsync(EdgeRedis redis)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                if (redis.Multiplexer is { IsConnected: true } multiplexer)
                {
                    await multiplexer.GetDatabase().PingAsync();
                    return;
                }
            }
            catch (RedisException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Redis did not reconnect within 15 s");
            }

            await Task.Delay(50);
        }
    }
}
