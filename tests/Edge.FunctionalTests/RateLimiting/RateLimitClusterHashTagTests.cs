using System.Net;
using Edge.Testing;
using StackExchange.Redis;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>
/// Client values with Redis Cluster hash-tag braces, sent in parallel through a real edge to a real 3-master cluster:
/// none may move a partition's key into another partition's key or slot, or spend another tenant's bucket.
/// </summary>
[Collection(SustainedLoadCollection.Name)]
public sealed class RateLimitClusterHashTagTests : IAsyncLifetime
{
    private Backend _backend = null!;

    public Task InitializeAsync()
    {
        _backend = Backend.Start();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _backend.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task EdgeRateLimit_ClusterTenantAndKeyValuesWithBraces_NeverReachAnotherPartitionsKeyOrSlot()
    {
        await using var cluster = await RedisCluster.StartAsync();
        const int Limit = 3;
        var name = RateLimitLoad.UniquePolicyName();
        await using var edge = await RateLimitLoad.StartEdgeAsync(_backend.Url, cluster.ConnectionString, new { Limit, Window = "01:00:00", OnRedisUnavailable = "Closed" }, name);
        Assert.Equal(HttpStatusCode.OK, (await RateLimitLoad.SendAsync(edge.Client, "acme", "alice")).Status);

        // Values that would each be a victim's hash tag, or close it early, were they put into the key as sent.
        string[] steering = ["}{acme:alice", "{acme:alice}", "acme:alice}", "x}{acme:alice}", "{}", "}", "{", "{acme}:{alice}"];
        var byUser = await Task.WhenAll(steering.SelectMany(user => Enumerable.Range(0, Limit + 2).Select(_ =>
            Task.Run(async () => (User: user, Response: await RateLimitLoad.SendAsync(edge.Client, "evil", user))))));
        var byTenant = await Task.WhenAll(steering.Select(tenant => RateLimitLoad.SendAsync(edge.Client, tenant, "alice")));
        var victim = await RateLimitLoad.SendAsync(edge.Client, "acme", "alice");

        // Each steering value is a bucket of its own in tenant evil: exactly the limit admitted, then 429.
        foreach (var group in byUser.GroupBy(r => r.User))
        {
            Assert.Equal(Limit, group.Count(r => r.Response.Status == HttpStatusCode.OK));
            Assert.All(group.Where(r => r.Response.Status != HttpStatusCode.OK), r => Assert.Equal("rate_limited", r.Response.Code));
        }

        // A tenant id with braces is refused before a token is spent.
        Assert.All(byTenant, r => Assert.Equal((HttpStatusCode.BadRequest, "tenant_invalid"), (r.Status, r.Code)));
        // The victim spent one of three before, and nobody else spent its bucket.
        Assert.Equal((HttpStatusCode.OK, "1"), (victim.Status, victim.Remaining));

        // On the cluster: one key per partition (the victim's and each steering value's), each with exactly
        // one hash tag, the whole partition, and in that partition's slot.
        using var admin = cluster.Connect(TimeSpan.FromSeconds(10));
        var keys = new List<string>();
        foreach (var node in cluster.Nodes)
        {
            keys.AddRange(admin.GetServer($"127.0.0.1:{node.Port}").Keys(pattern: $"edge:rl:tb:{name}:*").Select(k => (string)k!));
        }

        Assert.Equal(1 + steering.Length, keys.Count);
        var slots = new HashSet<long>();
        foreach (var key in keys)
        {
            var open = key.IndexOf('{', StringComparison.Ordinal);
            Assert.True(open > 0 && key.IndexOf('{', open + 1) < 0 && key.IndexOf('}', StringComparison.Ordinal) == key.Length - 1, key);
            var partition = key[(open + 1)..^1];
            var server = admin.GetServer($"127.0.0.1:{cluster.Nodes[0].Port}");
            var slot = (long)await server.ExecuteAsync("CLUSTER", "KEYSLOT", key);
            Assert.Equal((long)await server.ExecuteAsync("CLUSTER", "KEYSLOT", partition), slot);
            slots.Add(slot);
        }

        Assert.Contains($"edge:rl:tb:{name}:{{acme:alice}}", keys);
        Assert.True(slots.Count > 1, "the partitions' keys all share one slot");
    }
}
