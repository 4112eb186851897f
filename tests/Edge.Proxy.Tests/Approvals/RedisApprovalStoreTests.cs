using Edge.Proxy.Approvals;
using Edge.Proxy.Redis;
using Edge.Testing;

namespace Edge.Proxy.Tests.Approvals;

/// <summary>Approvals on one real redis-server.</summary>
public sealed class RedisApprovalStoreTests(RedisFixture server) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Ttl = TimeSpan.FromHours(12);

    [Fact]
    public async Task ListAsync_PendingOlderThan500DecidedOnes_StillListed()
    {
        // A busy tenant decides hundreds of requests within an approval's retention (twice its Ttl). The list read only the
        // 500 newest ids of the tenant's index and filtered them afterwards, so a request still waiting behind 500 newer
        // decided ones was in no answer, status=pending included: approvers never saw it and it expired unanswered.
        using var redis = new EdgeRedis(server.Server.ConnectionString + ",syncTimeout=5000,asyncTimeout=5000");
        await redis.ConnectAsync();
        var store = new RedisApprovalStore(redis);
        var tenant = "t" + ApprovalToken.NewId()[..12];
        var now = DateTimeOffset.UtcNow;
        var waiting = TestApprovalRequests.Create(now - TimeSpan.FromMinutes(1), Ttl) with { Tenant = tenant };
        await store.CreateAsync(waiting, waiting.ExpiresAt + Ttl, now);
        await Task.WhenAll(Enumerable.Range(0, 500).Select(async i =>
        {
            var decided = TestApprovalRequests.Create(now + TimeSpan.FromMilliseconds(i), Ttl) with { Tenant = tenant };
            await store.CreateAsync(decided, decided.ExpiresAt + Ttl, now);
            Assert.Equal(DecideOutcome.Decided, await store.RejectAsync(decided.Id, "bob", now));
        }));

        var listed = await store.ListAsync(tenant);

        Assert.Equal(501, listed.Count);
        Assert.Equal(waiting.Id, listed[^1].Id);
        Assert.Equal(ApprovalStatus.Pending, listed[^1].Status);
    }

    [Fact]
    public async Task ApproveAsync_LongestTtlApprovedLate_TenantIndexKeptAsLongAsTheApproval()
    {
        // Under the longest Ttl (7 days) a request approved at the end of its wait holds a usable token for 7 more days and
        // is kept 7 days past that. The tenant's index, which the list reads, was kept 8 days after the tenant's last new
        // request: with none since, the approved, unused token left every list (status=approved included) while it could
        // still be used, so no approver found it to revoke.
        using var redis = new EdgeRedis(server.Server.ConnectionString + ",syncTimeout=5000,asyncTimeout=5000");
        await redis.ConnectAsync();
        var store = new RedisApprovalStore(redis);
        var ttl = TimeSpan.FromDays(7);
        var now = DateTimeOffset.UtcNow;
        var request = TestApprovalRequests.Create(now - ttl + TimeSpan.FromMinutes(1), ttl) with { Tenant = "t" + ApprovalToken.NewId()[..12] };
        await store.CreateAsync(request, request.ExpiresAt + ttl, request.CreatedAt);
        var (_, tokenHash) = ApprovalToken.Create(request.Id);
        Assert.Equal(DecideOutcome.Decided, await store.ApproveAsync(request.Id, "bob", tokenHash, now, now + ttl, now + ttl + ttl));

        using var connection = server.Server.Connect();
        var db = connection.GetDatabase();
        var approvalKept = await db.KeyTimeToLiveAsync(RedisApprovalStore.ApprovalKey(request.Id));
        var indexKept = await db.KeyTimeToLiveAsync($"edge:approvals:tenant:{{{request.Tenant}}}");

        Assert.NotNull(approvalKept);
        Assert.NotNull(indexKept);
        Assert.True(indexKept >= approvalKept, $"index kept {indexKept}, approval kept {approvalKept}");
    }
}
