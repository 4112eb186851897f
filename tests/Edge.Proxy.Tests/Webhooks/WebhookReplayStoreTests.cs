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
                Assert.Equal(ReplayCheck.Unavailable, (await store.TryRegisterAsync("github", "delivery-" + i, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
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
            Assert.Equal(ReplayCheck.Unavailable, (await store.TryRegisterAsync("github", "delivery-" + i, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
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

            Assert.Equal(ReplayCheck.Unavailable, (await check.WaitAsync(TimeSpan.FromSeconds(30))).Check);
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
        await AcceptAsync(other, "delivery-1", reject: true);

        harness.Server.Pause();
        try
        {
            Assert.Equal(ReplayCheck.Unavailable, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
        }
        finally
        {
            harness.Server.Resume();
        }

        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.Duplicate, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
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
        await AcceptAsync(harness.Store, "delivery-1", reject: false);

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, (await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);

        Assert.Equal(ReplayCheck.Duplicate, (await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        Assert.Equal(ReplayCheck.Duplicate, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
    }

    [Fact]
    public async Task TryRegisterAsync_DeliveryStillInFlightLocallyWhenRedisReturns_InFlightOnEveryInstanceUntilAccepted()
    {
        // A duplicate of a delivery whose first attempt was still at the backend got ReplayStatus: with a 2xx there, the
        // sender was told a delivery succeeded that then failed. The write-back carries the state: in flight stays in
        // flight on every instance, and the acceptance marked later reaches Redis over it.
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        harness.Server.Kill();
        await WaitForAsync(() => !harness.Redis.Multiplexer!.IsConnected);
        var held = await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false);
        Assert.Equal(ReplayCheck.First, held.Check);
        Assert.Equal(ReplayCheck.InFlight, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, (await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        var inFlight = (await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check;
        await harness.Store.MarkAcceptedAsync(new ReplayReservation("github", held.Hold));

        Assert.Equal(ReplayCheck.InFlight, inFlight);
        Assert.Equal(ReplayCheck.Duplicate, (await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        Assert.Equal(ReplayCheck.Duplicate, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
    }

    [Fact]
    public async Task MarkAcceptedAsync_DuringOutageBeforeTheWriteBack_AcceptedStateWrittenBackToRedis()
    {
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        harness.Server.Kill();
        await WaitForAsync(() => !harness.Redis.Multiplexer!.IsConnected);
        var accepted = await AcceptAsync(harness.Store, "delivery-1", reject: false);
        var inFlight = await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false);

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, (await harness.Store.TryRegisterAsync("github", "delivery-3", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);

        var database = harness.Redis.Multiplexer!.GetDatabase();
        Assert.Equal(accepted.AcceptedValue, (string?)await database.StringGetAsync(accepted.Key));
        Assert.Equal(inFlight.Hold!.Value, (string?)await database.StringGetAsync(inFlight.Hold.Key));
        Assert.Equal(ReplayCheck.Duplicate, (await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        Assert.Equal(ReplayCheck.InFlight, (await other.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
    }

    [Fact]
    public async Task ReleaseAsync_ReservationExpiredAndTakenByAnotherInstance_OtherInstancesReservationKept()
    {
        // A release deleted the key whoever held it: once a slow first attempt outlived its TTL and another instance had
        // reserved the delivery's retry, the failed first attempt deleted that reservation, and a replay went through.
        await using var harness = await Harness.StartAsync();
        var other = new WebhookReplayStore(harness.Redis, harness.Time, new LoggerFactory([harness.Logs]).CreateLogger<WebhookReplayStore>());
        var slow = await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);
        await harness.Redis.Multiplexer!.GetDatabase().KeyDeleteAsync(slow.Hold!.Key);
        await AcceptAsync(other, "delivery-1", reject: true);

        await harness.Store.ReleaseAsync(new ReplayReservation("github", slow.Hold));

        Assert.Equal(ReplayCheck.Duplicate, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
    }

    [Fact]
    public async Task TryRegisterAsync_NoRedisFirstAttemptInFlightThenAcceptedOrReleased_InFlightDuplicateOrFirst()
    {
        using var redis = new EdgeRedis(null);
        var store = new WebhookReplayStore(redis, new FakeTimeProvider(), new LoggerFactory([new CapturedLogs()]).CreateLogger<WebhookReplayStore>());
        var accepted = await store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);
        var released = await store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);

        var inFlight = (await store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check;
        await store.MarkAcceptedAsync(new ReplayReservation("github", accepted.Hold));
        await store.ReleaseAsync(new ReplayReservation("github", released.Hold));

        Assert.Equal(ReplayCheck.InFlight, inFlight);
        Assert.Equal(ReplayCheck.Duplicate, (await store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
        Assert.Equal(ReplayCheck.First, (await store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
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
        var first = await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false);
        var second = await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false);
        await AcceptAsync(other, "delivery-2", reject: false);
        await harness.Store.ReleaseAsync(new ReplayReservation("github", first.Hold));

        await harness.Server.RestartAsync();
        await WaitForAsync(() => harness.Redis.Multiplexer!.IsConnected);
        Assert.Equal(ReplayCheck.First, (await other.TryRegisterAsync("github", "delivery-3", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        await harness.Store.ReleaseAsync(new ReplayReservation("github", second.Hold));

        Assert.Equal(ReplayCheck.Duplicate, (await harness.Store.TryRegisterAsync("github", "delivery-2", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
        Assert.Equal(ReplayCheck.First, (await other.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: false)).Check);
    }

    /// <summary>Registers a delivery as first seen and marks its first attempt accepted, as an answered 2xx does.</summary>
    private static async Task<ReplayHold> AcceptAsync(WebhookReplayStore store, string deliveryId, bool reject)
    {
        var registration = await store.TryRegisterAsync("github", deliveryId, TimeSpan.FromMinutes(5), reject);
        Assert.Equal(ReplayCheck.First, registration.Check);
        await store.MarkAcceptedAsync(new ReplayReservation("github", registration.Hold));
        return registration.Hold!;
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
        var held = await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true);
        Assert.Equal(ReplayCheck.First, held.Check);
        harness.Server.Pause();
        try
        {
            var release = harness.Store.ReleaseAsync(new ReplayReservation("github", held.Hold)).AsTask();
            harness.Time.Advance(WebhookReplayStore.RedisDeadline);
            await release.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            harness.Server.Resume();
        }

        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.First, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MarkAcceptedOrReleaseAsync_RedisFrozenWithIdAndSignatureHeld_BothReturnAtOneDeadlineAndLandLater(bool accepted)
    {
        // A GitHub delivery holds two keys, its id and its signature. Written one after the other, the second write waited
        // for the first's round trip: with Redis frozen, the sender's answer waited two deadlines instead of one.
        await using var harness = await Harness.StartAsync(",asyncTimeout=60000");
        var ttl = TimeSpan.FromMinutes(5);
        var delivery = await harness.Store.TryRegisterAsync("github", "delivery-1", ttl, rejectWhenRedisUnavailable: true);
        var signature = await harness.Store.TryRegisterAsync("github", "signature-1", ttl, rejectWhenRedisUnavailable: true);
        var reservation = new ReplayReservation("github", delivery.Hold, signature.Hold);
        harness.Server.Pause();
        try
        {
            var settle = (accepted ? harness.Store.MarkAcceptedAsync(reservation) : harness.Store.ReleaseAsync(reservation)).AsTask();
            harness.Time.Advance(WebhookReplayStore.RedisDeadline);
            await settle.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            harness.Server.Resume();
        }

        // Both writes were on the wire and land once Redis wakes: each key accepted (a duplicate) or released (a retry is first).
        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        var expected = accepted ? ReplayCheck.Duplicate : ReplayCheck.First;
        Assert.Equal(expected, (await harness.Store.TryRegisterAsync("github", "delivery-1", ttl, rejectWhenRedisUnavailable: true)).Check);
        Assert.Equal(expected, (await harness.Store.TryRegisterAsync("github", "signature-1", ttl, rejectWhenRedisUnavailable: true)).Check);
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

            Assert.Equal(ReplayCheck.Unavailable, (await check.WaitAsync(TimeSpan.FromSeconds(30))).Check);
        }
        finally
        {
            harness.Server.Resume();
        }

        // Same connection, answered in order: once the PING is back, the late reservation and its undo were answered.
        await harness.Redis.Multiplexer!.GetDatabase().PingAsync();
        Assert.Equal(ReplayCheck.First, (await harness.Store.TryRegisterAsync("github", "delivery-1", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);
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
        Assert.Equal(ReplayCheck.First, (await store.TryRegisterAsync("github", "delivery-0", TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check);

        await pair.SwapRolesAsync();

        var delivery = 0;
        await RedisReplicaPair.WaitForAsync(async () =>
            (await store.TryRegisterAsync("github", "delivery-" + ++delivery, TimeSpan.FromMinutes(5), rejectWhenRedisUnavailable: true)).Check == ReplayCheck.First);
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
