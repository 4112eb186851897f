using Edge.Proxy.Approvals;
using Edge.Proxy.Redis;
using Edge.Testing;

namespace Edge.Proxy.Tests.Approvals;

/// <summary>Approvals on a real Redis primary and its replica (no cluster) whose roles are swapped.</summary>
public sealed class RedisApprovalStoreFailoverTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task CreateAsync_PrimaryDemotedAndReplicaPromoted_StoredOnTheNewPrimaryWithinSeconds()
    {
        // Edge:Redis names a primary and its replica. An operator or a managed service swaps their roles: the old primary
        // answers every write with READONLY while the promoted replica is healthy. The client checks the roles by itself
        // only every ConfigCheckSeconds (60 s): until then every approval request was 503 approval_store_unavailable.
        await using var pair = await RedisReplicaPair.StartAsync();
        using var redis = new EdgeRedis(pair.ConnectionString);
        await redis.ConnectAsync();
        var store = new RedisApprovalStore(redis);
        var before = TestApprovalRequests.Create(DateTimeOffset.UtcNow, Ttl);
        await store.CreateAsync(before, before.ExpiresAt + Ttl, DateTimeOffset.UtcNow);

        await pair.SwapRolesAsync();

        var after = TestApprovalRequests.Create(DateTimeOffset.UtcNow, Ttl);
        await RedisReplicaPair.WaitForAsync(async () =>
        {
            try
            {
                await store.CreateAsync(after, after.ExpiresAt + Ttl, DateTimeOffset.UtcNow);
                return true;
            }
            catch (ApprovalStoreUnavailableException)
            {
                return false;
            }
        });

        using var promoted = pair.Replica.Connect();
        Assert.True(await promoted.GetDatabase().KeyExistsAsync(RedisApprovalStore.ApprovalKey(after.Id)));
    }
}
