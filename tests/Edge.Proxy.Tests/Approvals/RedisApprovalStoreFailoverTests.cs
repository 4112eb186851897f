using System.Globalization;
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
        await using var primary = await RedisServer.StartAsync();
        await using var replica = await RedisServer.StartAsync(extraArguments: ["--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)]);
        using (var admin = replica.Connect())
        {
            await WaitForAsync(async () => ((string?)await admin.GetDatabase().ExecuteAsync("INFO", "replication"))!.Contains("master_link_status:up", StringComparison.Ordinal));
        }

        using var redis = new EdgeRedis($"127.0.0.1:{primary.Port},127.0.0.1:{replica.Port},abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000");
        await redis.ConnectAsync();
        var store = new RedisApprovalStore(redis);
        var before = TestApprovalRequests.Create(DateTimeOffset.UtcNow, Ttl);
        await store.CreateAsync(before, before.ExpiresAt + Ttl, DateTimeOffset.UtcNow);

        using (var admin = replica.Connect())
        {
            await admin.GetDatabase().ExecuteAsync("REPLICAOF", "NO", "ONE");
        }

        using (var admin = primary.Connect())
        {
            await admin.GetDatabase().ExecuteAsync("REPLICAOF", "127.0.0.1", replica.Port.ToString(CultureInfo.InvariantCulture));
        }

        var after = TestApprovalRequests.Create(DateTimeOffset.UtcNow, Ttl);
        await WaitForAsync(async () =>
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

        using var promoted = replica.Connect();
        Assert.True(await promoted.GetDatabase().KeyExistsAsync(RedisApprovalStore.ApprovalKey(after.Id)));
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 15 s");
            await Task.Delay(100);
        }
    }
}
