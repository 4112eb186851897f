using Edge.Proxy.RateLimiting;
using Edge.Testing;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>
/// A real Redis Cluster with one replica per master: a master that goes silent (frozen, or cut off by a network that
/// drops its packets) is replaced by its replica after <c>cluster-node-timeout</c>, and the edge must follow the new
/// slot map while the old master's connection is still open. Alone, as the deadline tests are: with every wake-up late on
/// a pool busy with the tests beside it, each decision waited out the busy ceiling (<c>overloaded</c>) and the promoted
/// replica's answers came after the 8 s the test gives them (a CI run with every test project at once).
/// </summary>
[Collection(nameof(RedisRateLimitConnectionTests))]
public sealed class EdgeRateLimiterClusterFailoverTests : IAsyncLifetime
{
    private RedisCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RedisCluster.StartAsync(replicasPerMaster: 1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task DecideAsync_ClusterMasterFrozenAndReplicaPromoted_DecidesOnTheNewMasterWhileTheOldStaysFrozen()
    {
        // The client's own command timeouts as an Edge:Redis without them has (5 s; the fixture's 1 s would hide the
        // wait: the client declares a silent socket dead only after several of its timeouts).
        using var services = new RateLimitTestServices(_cluster.ConnectionString + ",syncTimeout=5000,asyncTimeout=5000");
        await services.WaitForRedisAsync();
        var policy = RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = 5, Window = TimeSpan.FromHours(1), DecisionDeadline = TimeSpan.FromMilliseconds(100), OnRedisUnavailable = "Closed" },
            "failover");
        var limiter = services.Registry.GetOrCreate(policy);
        Assert.Equal(RateLimitDecisionSource.Redis, (await limiter.DecideAsync("t:frozen", 1, CancellationToken.None)).Source);
        var master = await _cluster.NodeOfAsync(RedisRateLimitScript.KeyOf(policy, "t:frozen"));
        var replicas = await _cluster.ReplicasAsync();

        master.Pause();
        try
        {
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            var decisions = new List<RateLimitDecision>();
            while (true)
            {
                if (await RedisCluster.AnyPromotedAsync(replicas))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < giveUp, "no replica was promoted within 30 s");
                decisions.Add(await limiter.DecideAsync("t:frozen", 1, CancellationToken.None));
                await Task.Delay(50);
            }

            // The frozen master's keys got the outage mode meanwhile (Closed: refused, never admitted).
            Assert.All(decisions, d => Assert.Equal(RateLimitDecisionSource.FallbackClosed, d.Source));

            // The replica serves the slot now. Before, the client kept the frozen master's open connection and its
            // slot map until it declared that socket dead, about 20 s later; every decision of its keys meanwhile went to
            // the outage mode while the cluster was healthy. Counted from the promotion, it resumed after 14-17 s.
            var promotedAt = DateTime.UtcNow;
            RateLimitDecision resumed;
            while (true)
            {
                resumed = await limiter.DecideAsync("t:frozen", 1, CancellationToken.None);
                if (resumed.Source == RateLimitDecisionSource.Redis)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < promotedAt + TimeSpan.FromSeconds(8), $"the promoted replica was not used within 8 s (last: {resumed.Source}, {resumed.FallbackReason})");
                await Task.Delay(50);
            }

            Assert.Equal(RateLimitFallbackReason.None, resumed.FallbackReason);
            var breaker = services.Connection.BreakerFor(policy, "t:frozen");
            Assert.False(breaker.Breaker.IsOpen);
            Assert.NotEqual($"127.0.0.1:{master.Port}", breaker.Node);
        }
        finally
        {
            master.Resume();
        }
    }
}
