using Edge.Proxy.Approvals;
using Edge.Proxy.Redis;
using Edge.Testing;

namespace Edge.Proxy.Tests.Approvals;

/// <summary>Approvals on a real Redis Cluster with one replica per master, across a failover.</summary>
public sealed class RedisApprovalStoreClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);

    private RedisCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await RedisCluster.StartAsync(replicasPerMaster: 1);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task GetAsync_MasterFrozenAndReplicaPromoted_ApprovalServedByTheNewMasterWhileTheOldStaysFrozen()
    {
        // The client's own command timeouts as an Edge:Redis without them has (5 s): the client declares a silent
        // socket dead only after several of them.
        using var redis = new EdgeRedis(_cluster.ConnectionString + ",syncTimeout=5000,asyncTimeout=5000");
        await redis.ConnectAsync();
        var store = new RedisApprovalStore(redis);
        var request = TestApprovalRequests.Create(DateTimeOffset.UtcNow, Ttl);
        await store.CreateAsync(request, request.ExpiresAt + Ttl, DateTimeOffset.UtcNow);
        var (_, tokenHash) = ApprovalToken.Create(request.Id);
        Assert.Equal(DecideOutcome.Decided, await store.ApproveAsync(request.Id, "bob", tokenHash, DateTimeOffset.UtcNow, request.ExpiresAt, request.ExpiresAt + Ttl));
        var master = await _cluster.NodeOfAsync(RedisApprovalStore.ApprovalKey(request.Id).ToString());
        var replicas = await _cluster.ReplicasAsync();

        // The approval reaches the replica (asynchronous replication, on loopback within milliseconds).
        await Task.Delay(500);
        master.Pause();
        try
        {
            var served = Task.Run(async () =>
            {
                while (true)
                {
                    try
                    {
                        if (await store.GetAsync(request.Id) is { } found)
                        {
                            return (Found: found, At: DateTime.UtcNow);
                        }
                    }
                    catch (ApprovalStoreUnavailableException)
                    {
                    }

                    await Task.Delay(100);
                }
            });
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                if (await RedisCluster.AnyPromotedAsync(replicas))
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < giveUp, "no replica was promoted within 30 s");
                await Task.Delay(50);
            }

            // Before, the client kept routing the slot to the frozen master until it declared that socket dead, about
            // 20 s after the freeze: 14-17 s after the promotion every approval of the slot was 503 approval_store_unavailable.
            var promotedAt = DateTime.UtcNow;
            var completed = await Task.WhenAny(served, Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.True(completed == served, "the approval was not served by the promoted replica within 10 s");
            var (approval, _) = await served;
            Assert.Equal(ApprovalStatus.Approved, approval.Status);
            Assert.Equal(request.RequestHash, approval.RequestHash);
            Assert.True(DateTime.UtcNow - promotedAt < TimeSpan.FromSeconds(10));
        }
        finally
        {
            master.Resume();
        }
    }
}
