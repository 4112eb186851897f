using Edge.Proxy.RateLimiting;
using Edge.Testing;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class RedisRateLimitScriptTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly IConnectionMultiplexer _connection = redis.Server.Connect();

    public void Dispose() => _connection.Dispose();

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeAsync_ConcurrentCallsOnOneKey_GrantExactlyTheBurst(string algorithm)
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 50, Window = TimeSpan.FromHours(1) }, "exact-" + algorithm);
        var database = _connection.GetDatabase();

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => RedisRateLimitScript.TakeAsync(database, policy, "acme:alice", 1, 1)));

        Assert.Equal(50, results.Count(r => r.Granted == 1));
        Assert.All(results.Where(r => r.Granted == 0), r => Assert.True(r.RetryAfter > TimeSpan.Zero));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i).Order(), results.Where(r => r.Granted == 1).Select(r => r.Remaining).Order());
    }

    [Fact]
    public async Task TakeAsync_Refused_WritesNoState()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 1, Window = TimeSpan.FromHours(1) }, "nowrite");
        var database = _connection.GetDatabase();
        var key = RedisRateLimitScript.KeyOf(policy, "acme:bob");
        await RedisRateLimitScript.TakeAsync(database, policy, "acme:bob", 1, 1);
        var before = await database.HashGetAllAsync(key);

        var refused = await RedisRateLimitScript.TakeAsync(database, policy, "acme:bob", 1, 1);

        Assert.Equal(0, refused.Granted);
        Assert.Equal(before, await database.HashGetAllAsync(key));
        var neverAdmitted = RedisRateLimitScript.KeyOf(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 1, Burst = 1 }, "nowrite2"), "acme:carol");
        Assert.False(await database.KeyExistsAsync(neverAdmitted));
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeAsync_SpentThenWindowLengthened_KeepsWhatWasUsedNotTheDebtInTime(string algorithm)
    {
        var spent = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 100, Window = TimeSpan.FromMinutes(1) }, "lengthened-" + algorithm);
        var stricter = spent with { Window = TimeSpan.FromHours(1) };
        var database = _connection.GetDatabase();
        var now = ServerMicroseconds(await database.ExecuteAsync("TIME"));
        Assert.Equal(100, (await RedisRateLimitScript.TakeAsync(database, spent, "acme:gus", 100, 100, now)).Granted);

        // Edited at the same instant: nothing is left, and a token comes back after 36 s at 100/h. Before, a GCRA key
        // read its 60 s to full as the debt at the new rate: 1.7 tokens of 100, so 98 were left at once.
        var after = await RedisRateLimitScript.TakeAsync(database, stricter, "acme:gus", 100, 1, now);

        Assert.Equal(0, after.Granted);
        Assert.InRange(after.RetryAfter, TimeSpan.FromSeconds(35), TimeSpan.FromSeconds(36));
    }

    [Fact]
    public async Task TakeAsync_GcraKeyOfAnEarlierVersion_PlainTatTakenAsIsAndTheNewValueStillReadsAsTheTat()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = "Gcra", Limit = 10, Window = TimeSpan.FromHours(1) }, "gcra-compat");
        var database = _connection.GetDatabase();
        var key = RedisRateLimitScript.KeyOf(policy, "acme:hal");
        var now = ServerMicroseconds(await database.ExecuteAsync("TIME"));
        // 3 of 10 used, as an edge of the earlier version wrote it (the TAT alone).
        await database.StringSetAsync(key, (now + (3 * 360_000_000L)).ToString(System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromHours(1));

        var result = await RedisRateLimitScript.TakeAsync(database, policy, "acme:hal", 10, 1, now);
        // What an edge of the earlier version reads from the value now written: tonumber of the whole value.
        var asNumber = (long)await database.ScriptEvaluateAsync("return tonumber(redis.call('GET', KEYS[1]))", [key]);

        Assert.Equal(7, result.Granted);
        Assert.Equal(now + (10 * 360_000_000L), asNumber);
    }

    [Fact]
    public async Task TakeAsync_RefusedAfterWindowLengthened_KeyLivesUntilTheBucketIsFullUnderTheNewWindow()
    {
        var spent = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 2, Window = TimeSpan.FromSeconds(2) }, "lengthened");
        var edited = spent with { Window = TimeSpan.FromHours(1) };
        var database = _connection.GetDatabase();
        var key = RedisRateLimitScript.KeyOf(spent, "acme:erin");
        await RedisRateLimitScript.TakeAsync(database, spent, "acme:erin", 2, 2);

        var refused = await RedisRateLimitScript.TakeAsync(database, edited, "acme:erin", 1, 1);

        // The TTL set under the 2 s window (3 s) would drop the spent bucket long before its tokens come back at one per
        // 30 min: the partition would get a full bucket while it was told to retry after half an hour.
        Assert.Equal(0, refused.Granted);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));
        var ttl = await database.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, refused.ResetAfter, refused.ResetAfter + TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task TakeAsync_LimitEditedAfterUse_PartitionKeepsWhatItUsed()
    {
        var one = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 1, Window = TimeSpan.FromHours(1) }, "edited");
        var three = one with { Burst = 3, Limit = 3 };
        var database = _connection.GetDatabase();
        Assert.Equal(1, (await RedisRateLimitScript.TakeAsync(database, one, "acme:raise", 1, 1)).Granted);
        Assert.Equal(1, (await RedisRateLimitScript.TakeAsync(database, three, "acme:lower", 1, 1)).Granted);

        // Raised from 1 to 3 after using 1: two more now, not one token per 20 minutes from nothing.
        var raised = await RedisRateLimitScript.TakeManyAsync(database, three, "acme:raise", [new BucketRequest(1, 1), new BucketRequest(1, 1), new BucketRequest(1, 1)]);
        // Lowered from 3 to 1 after using 1: nothing left, not the two it had under the old limit.
        var lowered = await RedisRateLimitScript.TakeAsync(database, one, "acme:lower", 1, 1);

        Assert.Equal([1, 1, 0], raised.Select(r => r.Granted));
        Assert.Equal(0, lowered.Granted);
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeAsync_Admitted_KeyHasTtlOfRefillTimePlusOneSecond(string algorithm)
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 10, Window = TimeSpan.FromSeconds(10) }, "ttl-" + algorithm);
        var database = _connection.GetDatabase();

        await RedisRateLimitScript.TakeAsync(database, policy, "acme:dave", 3, 3);

        var ttl = await database.KeyTimeToLiveAsync(RedisRateLimitScript.KeyOf(policy, "acme:dave"));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4));
    }

    [Fact]
    public async Task TakeAsync_ShortWindow_RefillsFromRedisTime()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 5, Window = TimeSpan.FromSeconds(2) }, "refill");
        var database = _connection.GetDatabase();
        var granted = 0;
        BucketResult refused = default;
        for (var i = 0; i < 50 && refused.RetryAfter == TimeSpan.Zero; i++)
        {
            var result = await RedisRateLimitScript.TakeAsync(database, policy, "t:refill", 1, 1);
            granted += result.Granted;
            refused = result.Granted == 0 ? result : default;
        }

        await Task.Delay(refused.RetryAfter + TimeSpan.FromMilliseconds(20));
        var afterRetry = await RedisRateLimitScript.TakeAsync(database, policy, "t:refill", 1, 1);

        // The burst (5) was admitted, plus whatever refilled meanwhile at 400 ms per token; then the wait told by
        // Retry-After (at most one token interval) is enough for the next one.
        Assert.InRange(granted, 5, 49);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromTicks(1), TimeSpan.FromMilliseconds(400));
        Assert.Equal(1, afterRetry.Granted);
    }

    [Fact]
    public async Task TakeAsync_LeaseClaim_GrantsUpToWhatIsLeftAndAtLeastMin()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 10, Window = TimeSpan.FromHours(1) }, "claim");
        var database = _connection.GetDatabase();

        var first = await RedisRateLimitScript.TakeAsync(database, policy, "t:c", 8, 1);
        var second = await RedisRateLimitScript.TakeAsync(database, policy, "t:c", 8, 1);
        var third = await RedisRateLimitScript.TakeAsync(database, policy, "t:c", 8, 1);

        Assert.Equal((8, 2L), (first.Granted, first.Remaining));
        Assert.Equal((2, 0L), (second.Granted, second.Remaining));
        Assert.Equal(0, third.Granted);
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeManyAsync_OneCallForSeveralRequests_GrantsEachInOrderLikeSequentialCalls(string algorithm)
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 5, Window = TimeSpan.FromHours(1) }, "many-" + algorithm);
        var database = _connection.GetDatabase();

        var results = await RedisRateLimitScript.TakeManyAsync(database, policy, "t:m", [new(2, 2), new(1, 1), new(3, 3), new(1, 1), new(1, 1), new(1, 1)]);
        var after = await RedisRateLimitScript.TakeAsync(database, policy, "t:m", 1, 1);

        // 2 + 1 granted, 3 refused (only 2 left: a smaller request after it still fits), then 1 + 1, then empty.
        Assert.Equal([2, 1, 0, 1, 1, 0], results.Select(r => r.Granted));
        Assert.Equal([3L, 2, 2, 1, 0, 0], results.Select(r => r.Remaining));
        Assert.True(results[2].RetryAfter > TimeSpan.FromMinutes(11), "a 3-token request waits for one more token (12 min)");
        Assert.All(results.Where(r => r.Granted > 0), r => Assert.Equal(TimeSpan.Zero, r.RetryAfter));
        Assert.Equal(0, after.Granted);
    }

    [Fact]
    public async Task TakeAsync_AfterScriptFlush_ReloadsOnNoScript()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 10 }, "noscript");
        var database = _connection.GetDatabase();
        var server = _connection.GetServer(_connection.GetEndPoints()[0]);
        await RedisRateLimitScript.TakeAsync(database, policy, "t:n", 1, 1);

        await server.ScriptFlushAsync();
        var afterFlush = await RedisRateLimitScript.TakeAsync(database, policy, "t:n", 1, 1);

        Assert.Equal(1, afterFlush.Granted);
        Assert.True(await server.ScriptExistsAsync(RedisRateLimitScript.Source));
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeAsync_ClientTime_RefillsByTheGivenClockNotTheServers(string algorithm)
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 3, Window = TimeSpan.FromHours(1) }, "client-refill-" + algorithm);
        var database = _connection.GetDatabase();
        var start = ServerMicroseconds(await database.ExecuteAsync("TIME"));

        var granted = 0;
        for (var i = 0; i < 5; i++)
        {
            granted += (await RedisRateLimitScript.TakeAsync(database, policy, "t:c", 1, 1, start)).Granted;
        }

        // An hour later by the client's clock only: the server's TIME would refill nothing.
        var hourLater = await RedisRateLimitScript.TakeAsync(database, policy, "t:c", 3, 3, start + 3_600_000_000);

        Assert.Equal(3, granted);
        Assert.Equal(3, hourLater.Granted);
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task TakeAsync_ClientClockJumpsBack_StoredTimestampNeverMovesBackwardsAndStaysExact(string algorithm)
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Algorithm = algorithm, Limit = 4, Window = TimeSpan.FromHours(1) }, "client-back-" + algorithm);
        var database = _connection.GetDatabase();
        var key = RedisRateLimitScript.KeyOf(policy, "t:j");
        var now = ServerMicroseconds(await database.ExecuteAsync("TIME"));
        await RedisRateLimitScript.TakeAsync(database, policy, "t:j", 1, 1, now);
        var stored = await StoredTimestampAsync(database, key, algorithm);

        var results = new List<BucketResult>();
        foreach (var jump in new[] { -600_000_000L, -1_200_000_000L, -5_000_000L, -3_600_000_000L, 0, 0 })
        {
            results.Add(await RedisRateLimitScript.TakeAsync(database, policy, "t:j", 1, 1, now + jump));
            var after = await StoredTimestampAsync(database, key, algorithm);
            Assert.True(after >= stored, $"stored timestamp moved back from {stored} to {after}");
            stored = after;
        }

        // Going back in time refilled nothing: over the whole run exactly the burst of 4 was granted. The token bucket
        // treats an earlier clock as "no time passed"; GCRA sees a TAT further ahead, so it grants later, never more.
        Assert.Equal(4, 1 + results.Sum(r => r.Granted));
        Assert.Equal(0, results[^1].Granted);
        Assert.True(results[^1].RetryAfter > TimeSpan.Zero);
        if (algorithm == "TokenBucket")
        {
            Assert.Equal([1, 1, 1, 0, 0, 0], results.Select(r => r.Granted));
            Assert.Equal(now, stored);
        }
        else
        {
            Assert.Equal([1, 0, 1, 0, 1, 0], results.Select(r => r.Granted));
        }
    }

    private static long ServerMicroseconds(RedisResult time)
    {
        var parts = (RedisResult[])time!;
        return (long)parts[0] * 1_000_000 + (long)parts[1];
    }

    private static async Task<long> StoredTimestampAsync(IDatabase database, RedisKey key, string algorithm) =>
        algorithm == "Gcra"
            ? long.Parse(((string)(await database.StringGetAsync(key))!).Split('.')[0], System.Globalization.CultureInfo.InvariantCulture)
            : (long)await database.HashGetAsync(key, "ts");

    [Fact]
    public async Task KeyOf_PartitionIsTheHashTag_TenantsLandInTheirOwnKeysAndSlots()
    {
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 10, Key = "{tenant}:{principal}" }, "slots");
        var database = _connection.GetDatabase();
        var server = _connection.GetServer(_connection.GetEndPoints()[0]);

        await RedisRateLimitScript.TakeAsync(database, policy, "acme:alice", 1, 1);
        await RedisRateLimitScript.TakeAsync(database, policy, "globex:alice", 1, 1);

        var keys = server.Keys(pattern: "edge:rl:tb:slots:*").Select(k => k.ToString()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["edge:rl:tb:slots:{acme:alice}", "edge:rl:tb:slots:{globex:alice}"], keys);
        foreach (var key in keys)
        {
            // CLUSTER KEYSLOT hashes only the hash tag, so every key of a partition lands in one slot.
            var tag = key[(key.IndexOf('{') + 1)..key.IndexOf('}')];
            Assert.Equal(HashSlot(tag), HashSlot(key));
        }

        Assert.NotEqual(HashSlot("acme:alice"), HashSlot("globex:alice"));
    }

    /// <summary>Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag (or whole key) mod 16384.</summary>
    private static int HashSlot(string key)
    {
        var open = key.IndexOf('{');
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        ushort crc = 0;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(key))
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc % 16384;
    }
}
