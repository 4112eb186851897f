using Edge.Proxy.RateLimiting;
using Edge.Testing;
using StackExchange.Redis;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>
/// The client-time fallback against a real Redis 7. Redis 7 accepts TIME in scripts, so the refusal that switches a
/// connection to client time cannot be provoked; these tests force client mode through <see cref="RedisClientClock.Enable"/>.
/// </summary>
public sealed class RedisClientClockTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task DecideAsync_ForcedClientTimeWithEdgeClockOneHourAhead_OffsetCorrectsItAndAdmitsExactlyTheLimit()
    {
        var clock = new SettableClock(DateTimeOffset.UtcNow.AddHours(1));
        using var services = new RateLimitTestServices(redis.Server.ConnectionString, clock);
        await services.WaitForRedisAsync();
        services.Connection.Clock.Enable();
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 20, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromSeconds(2), OnRedisUnavailable = "Closed" }, "clock-skew");
        var limiter = services.Registry.GetOrCreate(policy);

        var decisions = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => limiter.DecideAsync("t:skew", 1, CancellationToken.None).AsTask()));

        Assert.Equal(20, decisions.Count(d => d.Admitted));
        Assert.DoesNotContain(decisions, d => d.IsFallback);
        // The edge clock is an hour ahead of this machine's (and so Redis's) clock: the measured offset says so.
        Assert.InRange(services.Connection.Clock.OffsetMicroseconds, -3_610_000_000L, -3_590_000_000L);
        var stored = await StoredTimestampAsync(policy, "t:skew");
        var serverNow = await ServerMicrosecondsAsync();
        Assert.InRange(stored, serverNow - 10_000_000, serverNow);
    }

    [Fact]
    public async Task DecideAsync_ForcedClientTimeAndEdgeClockJumpsBack_StoredTimestampKeptAndNothingRefilled()
    {
        var clock = new SettableClock(DateTimeOffset.UtcNow);
        using var services = new RateLimitTestServices(redis.Server.ConnectionString, clock);
        await services.WaitForRedisAsync();
        services.Connection.Clock.Enable();
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 3, Window = TimeSpan.FromSeconds(30), DecisionDeadline = TimeSpan.FromSeconds(2), OnRedisUnavailable = "Closed" }, "clock-back");
        var limiter = services.Registry.GetOrCreate(policy);
        var before = new List<bool>();
        for (var i = 0; i < 2; i++)
        {
            before.Add((await limiter.DecideAsync("t:back", 1, CancellationToken.None)).Admitted);
        }

        var stored = await StoredTimestampAsync(policy, "t:back");

        // The edge clock jumps back ten minutes; the offset measured earlier still applies (it is re-measured later).
        clock.Now = clock.Now.AddMinutes(-10);
        var third = await limiter.DecideAsync("t:back", 1, CancellationToken.None);
        var fourth = await limiter.DecideAsync("t:back", 1, CancellationToken.None);

        Assert.Equal([true, true], before);
        Assert.True(third.Admitted);
        Assert.False(fourth.Admitted);
        Assert.True(services.Connection.Clock.IsEnabled);
        Assert.Equal(stored, await StoredTimestampAsync(policy, "t:back"));
    }

    [Theory]
    [InlineData("ERR Error running script (call to f_0123): @user_script:9: @user_script: 9: Write commands not allowed after non deterministic commands. Call redis.replicate_commands() at the start of your script in order to switch to single commands replication mode.", true)]
    [InlineData("ERR command TIME not allowed from scripts", true)]
    [InlineData("NOSCRIPT No matching script. Please use EVAL.", false)]
    [InlineData("OOM command not allowed when used memory > 'maxmemory'.", false)]
    public void IsTimeRefusal_ServerMessages_RecognisesOnlyTimeRefusals(string message, bool expected)
    {
        Assert.Equal(expected, RedisClientClock.IsTimeRefusal(message));
    }

    private async Task<long> StoredTimestampAsync(RateLimitPolicy policy, string partition)
    {
        using var connection = redis.Server.Connect();
        return (long)await connection.GetDatabase().HashGetAsync(RedisRateLimitScript.KeyOf(policy, partition), "ts");
    }

    private async Task<long> ServerMicrosecondsAsync()
    {
        using var connection = redis.Server.Connect();
        var parts = (RedisResult[])(await connection.GetDatabase().ExecuteAsync("TIME"))!;
        return (long)parts[0] * 1_000_000 + (long)parts[1];
    }

    /// <summary>A wall clock the test moves, including backwards (which FakeTimeProvider does not allow).</summary>
    private sealed class SettableClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
