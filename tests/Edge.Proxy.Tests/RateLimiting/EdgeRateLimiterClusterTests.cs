using Edge.Proxy.RateLimiting;
using Edge.Testing;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>
/// Per-node circuit breakers on a real 3-master Redis Cluster: one master killed or frozen, the keys of the two
/// healthy masters keep being decided by Redis, exactly; only the failed master's keys get the outage mode; once the
/// master is back its keys are shared again. Counts and sources are asserted, no timing.
/// </summary>
public sealed class EdgeRateLimiterClusterTests : IAsyncLifetime
{
    private const int Limit = 5;

    private RedisCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RedisCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Theory]
    [InlineData("Kill", "Local", nameof(RateLimitDecisionSource.FallbackLocal))]
    [InlineData("Kill", "Closed", nameof(RateLimitDecisionSource.FallbackClosed))]
    [InlineData("Pause", "Open", nameof(RateLimitDecisionSource.FallbackOpen))]
    public async Task DecideAsync_ClusterMasterDown_HealthyMastersStayExactOnRedisFailedMastersKeysFallBack(string failure, string mode, string expectedSource)
    {
        var expected = Enum.Parse<RateLimitDecisionSource>(expectedSource);
        using var services = new RateLimitTestServices(_cluster.ConnectionString);
        await services.WaitForRedisAsync();
        var policy = RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = Limit, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromMilliseconds(100), OnRedisUnavailable = mode },
            "node-" + failure + mode);
        var limiter = services.Registry.GetOrCreate(policy);
        var keysByNode = await KeysByNodeAsync(policy);
        var (failed, failedKey) = keysByNode.First();
        var healthyKeys = keysByNode.Skip(1).Select(k => k.Value).ToArray();
        Assert.Equal(2, healthyKeys.Length);
        foreach (var key in keysByNode.Values)
        {
            var before = await limiter.DecideAsync(key, 1, CancellationToken.None);
            Assert.Equal((RateLimitDecisionSource.Redis, (long?)(Limit - 1)), (before.Source, before.Remaining));
        }

        if (failure == "Kill")
        {
            failed.Kill();
        }
        else
        {
            failed.Pause();
        }

        try
        {
            // The failed master's keys: the outage mode answers every decision, and the breaker their decisions use opens:
            // the node's, or the single-server one once a slot-map refresh finds the master's slots unowned (which one
            // depends on how soon the cluster marks the master failed; a loaded CI host once saw the node's stay closed).
            var failedNode = services.Connection.BreakerFor(policy, failedKey);
            var during = new List<RateLimitDecision>();
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!services.Connection.BreakerFor(policy, failedKey).Breaker.IsShortCircuiting)
            {
                Assert.True(DateTime.UtcNow < giveUp, "the failed master's breaker did not open within 20 s");
                during.Add(await limiter.DecideAsync(failedKey, 1, CancellationToken.None));
                await Task.Delay(20);
            }

            var shortCircuited = await limiter.DecideAsync(failedKey, 1, CancellationToken.None);
            Assert.All(during.Append(shortCircuited), d => Assert.Equal(expected, d.Source));
            Assert.Equal(RateLimitFallbackReason.BreakerOpen, shortCircuited.FallbackReason);

            // The healthy masters' keys: still Redis, exact, no fallback, their breakers closed.
            foreach (var key in healthyKeys)
            {
                for (var remaining = Limit - 2L; remaining >= 0; remaining--)
                {
                    var decision = await limiter.DecideAsync(key, 1, CancellationToken.None);
                    Assert.Equal((true, RateLimitDecisionSource.Redis, (long?)remaining), (decision.Admitted, decision.Source, decision.Remaining));
                    Assert.Equal(RateLimitFallbackReason.None, decision.FallbackReason);
                }

                var refused = await limiter.DecideAsync(key, 1, CancellationToken.None);
                Assert.False(refused.Admitted);
                Assert.Contains(refused.Source, new[] { RateLimitDecisionSource.Redis, RateLimitDecisionSource.RefusalCache });
                Assert.NotSame(failedNode, services.Connection.BreakerFor(policy, key));
                Assert.False(services.Connection.BreakerFor(policy, key).Breaker.IsOpen);
            }
        }
        finally
        {
            if (failure == "Kill")
            {
                await failed.RestartAsync();
            }
            else
            {
                failed.Resume();
            }
        }

        // The master is back (a restarted master reloads its slots from nodes.conf): a probe closes its breaker and
        // its keys are decided by Redis again. The count is not asserted: a killed master lost its bucket (no
        // persistence), and a frozen one applies the calls given up during the freeze once it runs again.
        var resumed = await DecideUntilRedisAsync(limiter, failedKey);
        Assert.Equal(RateLimitFallbackReason.None, resumed.FallbackReason);
        Assert.InRange(resumed.Remaining ?? -1, 0, Limit - 1);
        Assert.False(services.Connection.BreakerFor(policy, failedKey).Breaker.IsOpen);
        var next = await limiter.DecideAsync(failedKey, 1, CancellationToken.None);
        Assert.Contains(next.Source, new[] { RateLimitDecisionSource.Redis, RateLimitDecisionSource.RefusalCache });
    }

    [Theory]
    [InlineData("Local", nameof(RateLimitDecisionSource.FallbackLocal))]
    [InlineData("Open", nameof(RateLimitDecisionSource.FallbackOpen))]
    [InlineData("Closed", nameof(RateLimitDecisionSource.FallbackClosed))]
    public async Task DecideAsync_ClusterMasterKilled_EachModeAnswersAtOnceNotAfterTheDeadline(string mode, string expectedSource)
    {
        var expected = Enum.Parse<RateLimitDecisionSource>(expectedSource);
        using var services = new RateLimitTestServices(_cluster.ConnectionString);
        await services.WaitForRedisAsync();
        // A deadline far longer than the bound below: a decision that waited for it would fail the test.
        var policy = RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = Limit, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromSeconds(5), OnRedisUnavailable = mode },
            "killed-" + mode);
        var limiter = services.Registry.GetOrCreate(policy);
        var (victim, key) = (await KeysByNodeAsync(policy)).First();
        Assert.Equal(RateLimitDecisionSource.Redis, (await limiter.DecideAsync(key, 1, CancellationToken.None)).Source);

        victim.Kill();
        try
        {
            var timings = new List<(RateLimitDecision Decision, TimeSpan Took)>();
            for (var i = 0; i < 5; i++)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var decision = await limiter.DecideAsync(key, 1, CancellationToken.None);
                timings.Add((decision, watch.Elapsed));
            }

            // A dead master's connection fails (or is already known down): the outage mode answers without waiting for
            // the 5 s deadline; then the node's breaker answers without asking at all.
            Assert.All(timings, t => Assert.Equal(expected, t.Decision.Source));
            Assert.All(timings, t => Assert.Contains(t.Decision.FallbackReason, new[] { RateLimitFallbackReason.ConnectionFailed, RateLimitFallbackReason.Disconnected, RateLimitFallbackReason.BreakerOpen, RateLimitFallbackReason.Error }));
            // Generous on a shared machine; the point is "not the 5 s deadline".
            Assert.All(timings, t => Assert.True(t.Took < TimeSpan.FromSeconds(2.5), $"{t.Decision.FallbackReason} took {t.Took.TotalMilliseconds:F0} ms"));
        }
        finally
        {
            await victim.RestartAsync();
        }
    }

    [Fact]
    public async Task DecideAsync_ClusterSlotMigratingBehindStaleSlotMap_RetriesAndDecidesOnRedis()
    {
        using var services = new RateLimitTestServices(_cluster.ConnectionString);
        await services.WaitForRedisAsync();
        var policy = RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = Limit, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromSeconds(2), OnRedisUnavailable = "Closed" }, "reshard");
        var limiter = services.Registry.GetOrCreate(policy);
        var key = RedisRateLimitScript.KeyOf(policy, "t:moving");
        Assert.Equal(RateLimitDecisionSource.Redis, (await limiter.DecideAsync("t:moving", 1, CancellationToken.None)).Source);

        // The slot moves on while the edge's slot map still names the first owner; then it starts moving again. The
        // next call meets MOVED (first owner) and then ASK (the migrating second owner): two redirections, of which
        // the client follows one. Before, that surfaced as "not reachable" and a Closed policy refused the request.
        using var admin = _cluster.Connect();
        var nodes = _cluster.Nodes.ToList();
        var first = await _cluster.NodeOfAsync(key);
        var second = nodes[(nodes.IndexOf(first) + 1) % nodes.Count];
        var third = nodes[(nodes.IndexOf(first) + 2) % nodes.Count];
        await MoveSlotAsync(admin, key, first, second, finish: true);
        await MoveSlotAsync(admin, key, second, third, finish: false);

        var decision = await limiter.DecideAsync("t:moving", 1, CancellationToken.None);

        Assert.Equal((RateLimitDecisionSource.Redis, (long?)(Limit - 2)), (decision.Source, decision.Remaining));
        Assert.False(services.Connection.BreakerFor(policy, "t:moving").Breaker.IsOpen);
    }

    /// <summary>Moves the key's slot the way redis-cli --cluster reshard does; unfinished, the slot stays MIGRATING/IMPORTING with the key already on the target.</summary>
    private async Task MoveSlotAsync(StackExchange.Redis.IConnectionMultiplexer admin, string key, RedisServer from, RedisServer to, bool finish)
    {
        var source = admin.GetServer($"127.0.0.1:{from.Port}");
        var target = admin.GetServer($"127.0.0.1:{to.Port}");
        var slot = (long)await source.ExecuteAsync("CLUSTER", "KEYSLOT", key);
        var sourceId = (string)(await source.ExecuteAsync("CLUSTER", "MYID"))!;
        var targetId = (string)(await target.ExecuteAsync("CLUSTER", "MYID"))!;
        await target.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
        await source.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
        await source.ExecuteAsync("MIGRATE", "127.0.0.1", to.Port, key, 0, 5000);
        if (finish)
        {
            foreach (var node in _cluster.Nodes.OrderBy(node => node == to ? 0 : node == from ? 1 : 2))
            {
                await admin.GetServer($"127.0.0.1:{node.Port}").ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
            }
        }
    }

    [Fact]
    public async Task BreakerFor_ClusterKeysOnDifferentMasters_OneBreakerPerMasterSharedByItsKeys()
    {
        using var services = new RateLimitTestServices(_cluster.ConnectionString);
        await services.WaitForRedisAsync();
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = Limit, Window = TimeSpan.FromHours(1) }, "per-node");
        var keysByNode = await KeysByNodeAsync(policy);

        var breakers = keysByNode.Values.Select(key => services.Connection.BreakerFor(policy, key)).ToArray();

        Assert.Equal(3, breakers.Distinct().Count());
        Assert.All(breakers, b => Assert.NotSame(services.Connection.Breaker, b));
        Assert.Equal(keysByNode.Keys.Select(n => $"127.0.0.1:{n.Port}").Order(), breakers.Select(b => b.Node).Order());
        // Another key on the same master shares its breaker.
        var (node, _) = keysByNode.First();
        for (var i = 0; ; i++)
        {
            var other = $"other:{i}";
            if ((await _cluster.NodeOfAsync(RedisRateLimitScript.KeyOf(policy, other))).Port == node.Port)
            {
                Assert.Same(breakers[0], services.Connection.BreakerFor(policy, other));
                break;
            }
        }
    }

    [Fact]
    public async Task BreakerFor_SingleServer_OneSharedBreaker()
    {
        await using var redis = await RedisServer.StartAsync();
        using var services = new RateLimitTestServices(redis.ConnectionString);
        await services.WaitForRedisAsync();
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = Limit, Window = TimeSpan.FromHours(1) }, "single");

        Assert.Same(services.Connection.Breaker, services.Connection.BreakerFor(policy, "t:a"));
        Assert.Same(services.Connection.Breaker, services.Connection.BreakerFor(policy, "t:b"));
        Assert.Equal(RedisRateLimitConnection.SingleNode, services.Connection.Breaker.Node);
    }

    /// <summary>One partition per master, found by asking the cluster which node serves each candidate's slot.</summary>
    private async Task<Dictionary<RedisServer, string>> KeysByNodeAsync(RateLimitPolicy policy)
    {
        var keys = new Dictionary<RedisServer, string>();
        for (var i = 0; keys.Count < 3; i++)
        {
            var partition = $"t:u{i}";
            keys.TryAdd(await _cluster.NodeOfAsync(RedisRateLimitScript.KeyOf(policy, partition)), partition);
        }

        return keys;
    }

    private static async Task<RateLimitDecision> DecideUntilRedisAsync(EdgeRateLimiter limiter, string key)
    {
        var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var decision = await limiter.DecideAsync(key, 1, CancellationToken.None);
            if (decision.Source == RateLimitDecisionSource.Redis)
            {
                return decision;
            }

            Assert.True(DateTime.UtcNow < giveUp, $"shared limiting did not resume within 30 s (last: {decision.Source}, {decision.FallbackReason})");
            await Task.Delay(100);
        }
    }
}
