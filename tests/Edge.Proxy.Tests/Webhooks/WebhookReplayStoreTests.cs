using Edge.Proxy.Redis;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Proxy.Webhooks;
using Edge.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Webhooks;

public sealed class WebhookReplayStoreTests
{
    [Fact]
    public async Task TryRegisterAsync_RedisStallsWhileDeliveriesKeepComing_OneWarningPerMinuteWithTheCountSkipped()
    {
        // Warning 1401 was written for every delivery whose replay check Redis did not answer: during an outage, one log
        // line per delivery on every webhook route.
        await using var server = await RedisServer.StartAsync();
        using var redis = new EdgeRedis(server.ConnectionString);
        await redis.ConnectAsync();
        using var logs = new CapturedLogs();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var store = new WebhookReplayStore(redis, time, new LoggerFactory([logs]).CreateLogger<WebhookReplayStore>());

        server.Pause();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(ReplayCheck.Unavailable, await store.TryRegisterAsync("github", "delivery-" + i, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
            }

            Assert.Single(logs.Entries, e => e.Id.Id == 1401);

            time.Advance(TimeSpan.FromMinutes(1));
            await store.TryRegisterAsync("github", "delivery-late", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);
        }
        finally
        {
            server.Resume();
        }

        var failed = logs.Values.Where(e => e.Id.Id == 1401).ToList();
        Assert.Equal(2, failed.Count);
        Assert.Equal(3L, failed[1].Values.Single(v => v.Key == "Unlogged").Value);
    }
}
