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
        await using var harness = await Harness.StartAsync();
        var (server, redis, logs, time, store) = (harness.Server, harness.Redis, harness.Logs, harness.Time, harness.Store);

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

    [Fact]
    public async Task TryRegisterAsync_RedisGoneAndMarkedDisconnected_WarnsAtMostOncePerMinute()
    {
        // Once the client marked Redis disconnected the check was skipped without a word: deliveries were refused 503
        // for the whole outage and the replay store's warning never came.
        await using var harness = await Harness.StartAsync();
        var (server, redis, logs, time, store) = (harness.Server, harness.Redis, harness.Logs, harness.Time, harness.Store);

        server.Kill();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (redis.Multiplexer!.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.False(redis.Multiplexer.IsConnected);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ReplayCheck.Unavailable, await store.TryRegisterAsync("github", "delivery-" + i, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
        }

        var failed = Assert.Single(logs.Values, e => e.Id.Id == 1401);
        Assert.Equal("NotConnected", failed.Values.Single(v => v.Key == "Error").Value);
        time.Advance(TimeSpan.FromMinutes(1));
        await store.TryRegisterAsync("github", "delivery-late", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);
        Assert.Equal(2, logs.Values.Count(e => e.Id.Id == 1401));
    }

    [Fact]
    public async Task TryRegisterAsync_RedisFrozen_AnswersUnavailableAtTheReplayDeadline()
    {
        // The check waited for the Redis client's own timeout (5 s by default): a frozen Redis held every delivery that
        // long. The client here waits a minute, so only the store's deadline can answer.
        await using var harness = await Harness.StartAsync(",asyncTimeout=60000");
        harness.Server.Pause();
        try
        {
            var check = harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true).AsTask();
            harness.Time.Advance(WebhookReplayStore.RedisDeadline);

            Assert.Equal(ReplayCheck.Unavailable, await check.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            harness.Server.Resume();
        }
    }

    [Fact]
    public async Task TryRegisterAsync_ReservationLandsAfterTheDeadline_RetryIsNotTakenForAReplay()
    {
        // The delivery was refused 503 at the deadline, but Redis still made the reservation once it woke: the sender's
        // retry was then refused as a replay, and the delivery lost.
        await using var harness = await Harness.StartAsync(",asyncTimeout=60000");
        await AssertRetryAcceptedAfterStallAsync(harness, advanceToDeadline: true);
    }

    [Fact]
    public async Task TryRegisterAsync_ReservationLandsAfterTheClientTimedOut_RetryIsNotTakenForAReplay()
    {
        // The same through the Redis client's own timeout (1 s in this harness): the command stays on the wire.
        await using var harness = await Harness.StartAsync();
        await AssertRetryAcceptedAfterStallAsync(harness, advanceToDeadline: false);
    }

    [Fact]
    public async Task TryRegisterAsync_AnotherInstanceHoldsTheDelivery_StallOfThisOneLeavesItsReservation()
    {
        // The undo of an unanswered reservation deletes only this instance's own: a delivery another instance accepted
        // stays a replay.
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        Assert.Equal(ReplayCheck.First, await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));

        harness.Server.Pause();
        try
        {
            Assert.Equal(ReplayCheck.Unavailable, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
        }
        finally
        {
            harness.Server.Resume();
        }

        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.Duplicate, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
    }

    [Fact]
    public async Task TryRegisterAsync_DeliveryAcceptedLocallyDuringOutage_ReplayAfterRedisReturnsIsDuplicateOnEveryInstance()
    {
        // OnRedisUnavailable: Local kept an outage's acceptances in this instance's cache only, and once Redis answered
        // again only Redis was asked: a delivery accepted during the outage was accepted a second time, on any instance,
        // for the rest of its ReplayTtl (24 h for GitHub).
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        harness.Server.Kill();
        await WaitForAsync(() => !harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));

        Assert.Equal(ReplayCheck.Duplicate, await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        Assert.Equal(ReplayCheck.Duplicate, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
    }

    [Fact]
    public async Task ReleaseAsync_DeliveryAcceptedLocallyDuringOutage_NotWrittenBackAndOtherInstancesReservationKept()
    {
        // Released deliveries (refused downstream) are not written to Redis once it is back, and a release deletes only
        // this instance's own reservation: it deleted the key whoever held it, here the acceptance of another instance.
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        harness.Server.Kill();
        await WaitForAsync(() => !harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        Assert.Equal(ReplayCheck.First, await other.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        await harness.Store.ReleaseAsync(new ReplayReservation("github", "delivery-1"));

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, await other.TryRegisterAsync("github", "delivery-3", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        await harness.Store.ReleaseAsync(new ReplayReservation("github", "delivery-2"));

        Assert.Equal(ReplayCheck.Duplicate, await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
        Assert.Equal(ReplayCheck.First, await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task ReleaseAsync_RedisFrozen_ReturnsAtTheReplayDeadlineAndTheDeleteLandsLater()
    {
        // The release runs before a refusal's status goes out: it held the sender's answer for the client's timeout.
        await using var harness = await Harness.StartAsync(",asyncTimeout=60000");
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
        harness.Server.Pause();
        try
        {
            var release = harness.Store.ReleaseAsync(new ReplayReservation("github", "delivery-1")).AsTask();
            harness.Time.Advance(WebhookReplayStore.RedisDeadline);
            await release.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            harness.Server.Resume();
        }

        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
    }

    private static async Task AssertRetryAcceptedAfterStallAsync(Harness harness, bool advanceToDeadline)
    {
        harness.Server.Pause();
        try
        {
            var check = harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true).AsTask();
            if (advanceToDeadline)
            {
                harness.Time.Advance(WebhookReplayStore.RedisDeadline);
            }

            Assert.Equal(ReplayCheck.Unavailable, await check.WaitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            harness.Server.Resume();
        }

        // Same connection, answered in order: once the PING is back, the late reservation and its undo were answered.
        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.First, await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));
    }

    [Fact]
    public async Task TryRegisterAsync_PrimaryDemotedAndReplicaPromoted_ChecksOnTheNewPrimaryWithinSeconds()
    {
        // Edge:Redis names a primary and its replica, whose roles are then swapped: the old primary answers READONLY. The
        // client checks the roles by itself only every 60 s, and until then every delivery of a policy that rejects when
        // Redis is unavailable was refused, while the promoted primary was healthy.
        await using var pair = await RedisReplicaPair.StartAsync();
        using var redis = new EdgeRedis(pair.ConnectionString);
        await redis.ConnectAsync();
        var store = new WebhookReplayStore(redis, TimeProvider.System, new LoggerFactory([new CapturedLogs()]).CreateLogger<WebhookReplayStore>());
        Assert.Equal(ReplayCheck.First, await store.TryRegisterAsync("github", "delivery-0", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true));

        await pair.SwapRolesAsync();

        var delivery = 0;
        await RedisReplicaPair.WaitForAsync(async () =>
            await store.TryRegisterAsync("github", "delivery-" + ++delivery, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true) == ReplayCheck.First);
    }

    /// <summary>A replay store on a real redis-server of its own, with captured logs and a clock the test moves.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private Harness(RedisServer server, EdgeRedis redis)
        {
            Server = server;
            Redis = redis;
            Store = new WebhookReplayStore(redis, Time, new LoggerFactory([Logs]).CreateLogger<WebhookReplayStore>());
        }

        public RedisServer Server { get; }

        public EdgeRedis Redis { get; }

        public CapturedLogs Logs { get; } = new();

        public FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

        public WebhookReplayStore Store { get; }

        public static async Task<Harness> StartAsync(string clientOptions = "")
        {
            var server = await RedisServer.StartAsync();
            var redis = new EdgeRedis(server.ConnectionString + clientOptions);
            await redis.ConnectAsync();
            return new Harness(server, redis);
        }

        public async ValueTask DisposeAsync()
        {
            Logs.Dispose();
            Redis.Dispose();
            await Server.DisposeAsync();
        }
    }
}
