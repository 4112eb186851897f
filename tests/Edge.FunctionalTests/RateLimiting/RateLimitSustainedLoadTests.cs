using System.Net;
using Edge.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>
/// Issue 12: the limiter stays shared and exact under sustained load from parallel clients on two real edges, from a
/// cold start, on one real redis-server and on a real 3-master Redis Cluster. No timing is asserted; counts are.
/// </summary>
[Collection(SustainedLoadCollection.Name)]
public sealed class RateLimitSustainedLoadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ClientsPerEdge = 16;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

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

    [Theory]
    [InlineData("single", "Closed")]
    [InlineData("single", "Local")]
    [InlineData("cluster", "Closed")]
    [InlineData("cluster", "Local")]
    public async Task EdgeRateLimit_SustainedLoadTwoInstancesStrict_AdmitsLimitPlusRefillNeverFallsBack(string redis, string outageMode)
    {
        await using var store = await RedisStore.StartAsync(redis);
        const int limit = 300;
        var window = TimeSpan.FromHours(1);
        // The default deadline: the point is that a busy host no longer mistakes its own queueing for an outage.
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Strict", OnRedisUnavailable = outageMode };
        var name = RateLimitLoad.UniquePolicyName();
        await using var a = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);
        await using var b = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);

        var (responses, elapsed) = await RateLimitLoad.RunAsync([a, b], ClientsPerEdge, Duration, _ => "hot", minimumResponses: 3 * limit);

        var admitted = responses.Count(r => r.Status == HttpStatusCode.OK);
        var refill = (int)Math.Ceiling(elapsed / window * limit);
        var (unavailable, fallbacks, report) = await RateLimitLoad.FallbackReportAsync([a, b], name, responses);
        output.WriteLine($"{redis}/{outageMode}: {admitted} admitted of {responses.Count} in {elapsed.TotalSeconds:F1} s (limit {limit}, refill at most {refill}); {report}");

        Assert.True(responses.Count > 2 * limit, $"offered load {responses.Count} must exceed the limit");
        Assert.True(unavailable.Count == 0 && fallbacks.Count == 0, report);
        // A fallback would report the local share (150) as the limit.
        Assert.All(responses, r => Assert.Equal(limit.ToString(), r.Limit));
        Assert.InRange(admitted, limit, limit + refill);
        Assert.All(responses.Where(r => r.Status != HttpStatusCode.OK), r => Assert.Equal("rate_limited", r.Code));
    }

    [Fact]
    public async Task EdgeRateLimit_SustainedLoadTwoInstancesLease_WithinBoundAndFarFewerScriptCallsThanDecisions()
    {
        await using var store = await RedisStore.StartAsync("single");
        const int limit = 2000;
        const int maxBatch = 50;
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Lease", LeaseMaxBatch = maxBatch, LeaseDuration = "00:00:05", OnRedisUnavailable = "Closed" };
        var name = RateLimitLoad.UniquePolicyName();
        await using var a = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);
        await using var b = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);

        var (responses, elapsed) = await RateLimitLoad.RunAsync([a, b], ClientsPerEdge, Duration, _ => "lease", minimumResponses: 2 * limit);

        var admitted = responses.Count(r => r.Status == HttpStatusCode.OK);
        var refill = (int)Math.Ceiling(elapsed / TimeSpan.FromHours(1) * limit);
        using var admin = store.Server!.Connect();
        var info = await admin.GetServer(admin.GetEndPoints()[0]).InfoAsync("commandstats");
        var calls = info.SelectMany(g => g).Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval").Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..]));
        var (unavailable, fallbacks, report) = await RateLimitLoad.FallbackReportAsync([a, b], name, responses);
        output.WriteLine($"lease: {admitted} admitted of {responses.Count} in {elapsed.TotalSeconds:F1} s, {calls} script calls (limit {limit}); {report}");
        Assert.True(responses.Count > limit, $"offered load {responses.Count} must exceed the limit");
        Assert.True(unavailable.Count == 0 && fallbacks.Count == 0, report);
        // Documented bound: never more than strict mode (burst + refill); at most the unspent leases of the two
        // instances (2 x LeaseMaxBatch) are lost, claimed but not spent when the bucket ran dry.
        Assert.InRange(admitted, limit - (2 * maxBatch), limit + refill);
        Assert.True(calls * 10 <= responses.Count, $"{calls} script calls for {responses.Count} decisions");
    }

    [Theory]
    [InlineData("single")]
    [InlineData("cluster")]
    public async Task EdgeRateLimit_ColdStartTwoInstances_150ConcurrentGiveExactlyTheLimitAndNo503(string redis)
    {
        await using var store = await RedisStore.StartAsync(redis);
        const int limit = 25;
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Strict", OnRedisUnavailable = "Closed" };
        var name = RateLimitLoad.UniquePolicyName();
        var started = await Task.WhenAll(
            RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name),
            RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name));
        await using var a = started[0];
        await using var b = started[1];

        // No warm-up request: the first requests the edges ever see.
        var responses = await Task.WhenAll(Enumerable.Range(0, 150).Select(i => Task.Run(() => RateLimitLoad.SendAsync((i % 2 == 0 ? a : b).Client, "acme", "cold"))));

        var (unavailable, fallbacks, report) = await RateLimitLoad.FallbackReportAsync([a, b], name, responses);
        output.WriteLine($"cold start {redis}: {report}");
        Assert.True(unavailable.Count == 0 && fallbacks.Count == 0, report);
        Assert.Equal(limit, responses.Count(r => r.Status == HttpStatusCode.OK));
        Assert.Equal(150 - limit, responses.Count(r => r.Status == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task EdgeRateLimit_ClusterTenantsAndUsersOverManySlots_EachExactAndIsolated()
    {
        await using var store = await RedisStore.StartAsync("cluster");
        const int limit = 20;
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Strict", OnRedisUnavailable = "Closed" };
        await using var a = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy);
        await using var b = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy);
        var partitions = (from tenant in new[] { "acme", "globex", "initech" } from user in new[] { "u1", "u2", "u3", "u4" } select (tenant, user)).ToList();

        var responses = await Task.WhenAll(partitions.SelectMany(p => Enumerable.Range(0, limit * 3).Select(i =>
            Task.Run(async () => (p, await RateLimitLoad.SendAsync((i % 2 == 0 ? a : b).Client, p.tenant, p.user))))));

        foreach (var group in responses.GroupBy(r => r.p))
        {
            Assert.Equal(limit, group.Count(r => r.Item2.Status == HttpStatusCode.OK));
        }

        Assert.DoesNotContain(responses, r => r.Item2.Status == HttpStatusCode.ServiceUnavailable);
        // The partition is the hash tag: the 12 buckets spread over the three masters.
        var nodes = new HashSet<int>();
        foreach (var (tenant, user) in partitions)
        {
            nodes.Add((await store.Cluster!.NodeOfAsync($"edge:rl:tb:p:{{{tenant}:{user}}}")).Port);
        }

        Assert.Equal(3, nodes.Count);
    }

    [Theory]
    [InlineData("Local")]
    [InlineData("Open")]
    [InlineData("Closed")]
    public async Task EdgeRateLimit_ClusterNodeKilled_OutageModeAnswersForItsKeys(string mode)
    {
        await using var store = await RedisStore.StartAsync("cluster");
        var policy = new { Limit = 4, Window = "01:00:00", OnRedisUnavailable = mode };
        var name = RateLimitLoad.UniquePolicyName();
        await using var edge = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);
        var healthy = await RateLimitLoad.SendAsync(edge.Client, "acme", "victim");
        Assert.Equal(("4", "3"), (healthy.Limit, healthy.Remaining));
        var victimNode = await store.Cluster!.NodeOfAsync($"edge:rl:tb:{name}:{{acme:victim}}");
        // Users on the two other masters: their breakers stay closed while the victim's node is down.
        var bystanders = new List<string>();
        var bystanderNodes = new HashSet<int>();
        for (var i = 0; bystanderNodes.Count < 2; i++)
        {
            var node = await store.Cluster.NodeOfAsync($"edge:rl:tb:{name}:{{acme:u{i}}}");
            if (node != victimNode && bystanderNodes.Add(node.Port))
            {
                bystanders.Add($"u{i}");
            }
        }

        foreach (var user in bystanders)
        {
            var first = await RateLimitLoad.SendAsync(edge.Client, "acme", user);
            var second = await RateLimitLoad.SendAsync(edge.Client, "acme", user);
            Assert.Equal(("4", "3", "4", "2"), (first.Limit, first.Remaining, second.Limit, second.Remaining));
        }

        victimNode.Kill();
        var during = new List<RateLimitLoad.Observed>();
        for (var i = 0; i < 4; i++)
        {
            during.Add(await RateLimitLoad.SendAsync(edge.Client, "acme", "victim"));
        }

        foreach (var user in bystanders)
        {
            var after = new List<RateLimitLoad.Observed>();
            for (var i = 0; i < 3; i++)
            {
                after.Add(await RateLimitLoad.SendAsync(edge.Client, "acme", user));
            }

            // Shared and exact: the Redis bucket's last two tokens, then its refusal; never the outage mode.
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], after.Select(r => r.Status));
            Assert.All(after, r => Assert.Equal("4", r.Limit));
            Assert.Equal(("1", "0"), (after[0].Remaining, after[1].Remaining));
            Assert.Equal("rate_limited", after[2].Code);
        }

        switch (mode)
        {
            case "Local":
                Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], during.Select(r => r.Status));
                Assert.All(during, r => Assert.Equal("2", r.Limit));
                break;
            case "Open":
                Assert.All(during, r => Assert.Equal(HttpStatusCode.OK, r.Status));
                Assert.All(during, r => Assert.Null(r.Remaining));
                break;
            default:
                Assert.All(during, r => Assert.Equal("rate_limit_unavailable", r.Code));
                break;
        }

        var fallbacks = await RateLimitLoad.FallbackLinesAsync(edge, name);
        Assert.NotEmpty(fallbacks);
        Assert.All(fallbacks, line => Assert.Contains($"mode=\"{mode}\"", line));
    }

    [Fact]
    public async Task EdgeRateLimit_ClusterHotKeySlotMovedWhileLoaded_AdmitsLimitPlusRefillNoFallbackButASilentNodesNoAnswer()
    {
        await using var store = await RedisStore.StartAsync("cluster");
        // A one-minute window refills a token every 200 ms: once the burst is spent, each edge keeps asking Redis
        // several times a second (a refusal is cached only until the next token), so the moves meet live calls on a
        // fast host and a slow one alike.
        const int limit = 300;
        var window = TimeSpan.FromMinutes(1);
        var policy = new { Limit = limit, Window = "00:01:00", Mode = "Strict", OnRedisUnavailable = "Closed" };
        var name = RateLimitLoad.UniquePolicyName();
        await using var a = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);
        await using var b = await RateLimitLoad.StartEdgeAsync(_backend.Url, store.ConnectionString, policy, name);
        var key = $"edge:rl:tb:{name}:{{acme:hot}}";
        var cluster = store.Cluster!;

        // Resharding while the hot key is decided: its slot is moved from master to master (IMPORTING/MIGRATING,
        // MIGRATE of the bucket, SETSLOT NODE on target, source, then the rest), so calls meet ASK and MOVED redirects mid-run. One admin
        // connection for every move: a loaded host must not spend the run connecting. Its commands may wait for a thread
        // of this loaded process longer than the fixture's 1 s timeout; that is not what the test is about.
        using var admin = cluster.Connect(TimeSpan.FromSeconds(10));
        var owner = await cluster.NodeOfAsync(key);
        var load = RateLimitLoad.RunAsync([a, b], ClientsPerEdge, TimeSpan.FromSeconds(4), _ => "hot", minimumResponses: 2 * limit);
        var moves = new List<(int From, int To, long ScriptCallsBefore)>();
        while (!load.IsCompleted && moves.Count < 6)
        {
            var to = cluster.Nodes[(cluster.Nodes.ToList().IndexOf(owner) + 1) % cluster.Nodes.Count];
            moves.Add((owner.Port, to.Port, await ScriptCallsAsync(admin, cluster)));
            await MoveSlotAsync(admin, cluster, key, owner, to);
            owner = to;
            await Task.Delay(200);
        }

        var (responses, elapsed) = await load;
        var callsAfter = await ScriptCallsAsync(admin, cluster);

        var admitted = responses.Count(r => r.Status == HttpStatusCode.OK);
        var refill = (int)Math.Ceiling(elapsed / window * limit);
        // Read before asserting, so a failure names the fallback reasons (the edges log each failed call's reason and
        // error kind as event 1307 as well).
        var (unavailable, fallbacks, report) = await RateLimitLoad.FallbackReportAsync([a, b], name, responses);
        output.WriteLine($"slot moves {string.Join(", ", moves.Select(m => $"{m.From}->{m.To} (script calls so far {m.ScriptCallsBefore})"))}; {admitted} admitted of {responses.Count} in {elapsed.TotalSeconds:F1} s, {callsAfter} script calls in all; {report}");
        Assert.True(moves.Count >= 2, "the load ended before the slot could be moved twice");
        // Redis was being asked across the moves, not only before the first one (then they would prove nothing).
        Assert.True(moves[^1].ScriptCallsBefore > moves[0].ScriptCallsBefore, "no script call between the first and the last move");
        Assert.True(responses.Count > limit, $"offered load {responses.Count} must exceed the limit");
        // The one fallback this test tolerates, found by looping it on the loaded shared host (load/results/rate-limiting.md,
        // "slot-move 503"): a node that stayed silent for longer than the 100 ms deadline while the host's run queue was
        // 20-40 deep (the redis-server, or the client's socket thread, not scheduled; once after a redirection to a node
        // that had just taken the slot). The edge cannot tell that from a frozen node, so the call is given up as
        // no_answer and its coalesced decisions get the Closed mode's 503 (12-16 of them in 6 of about 50 runs). Exactly
        // that, and no more: at most one given-up call per edge, reason no_answer only (never an error, a refused
        // connection or an open breaker), each 503 one of those decisions, and the count stays exact.
        var calls = await RateLimitLoad.CounterByAsync(a, "edge_ratelimit_redis_calls_total", name, "result");
        var reasons = await RateLimitLoad.CounterByAsync(a, "edge_ratelimit_fallbacks_total", name, "reason");
        var givenUp = calls.Where(c => c.Key != "ok").ToDictionary();
        Assert.True(givenUp.Keys.All(k => k == "timeout") && givenUp.Values.Sum() <= 2, $"{report}; calls: {string.Join(", ", calls.Select(c => $"{c.Key}={c.Value}"))}");
        Assert.True(reasons.Keys.All(k => k == "no_answer"), report);
        Assert.All(unavailable, u => Assert.EndsWith("x rate_limit_unavailable", u));
        Assert.Equal(reasons.Values.Sum(), responses.Count(r => r.Status == HttpStatusCode.ServiceUnavailable));
        Assert.All(responses.Where(r => r.Status != HttpStatusCode.ServiceUnavailable), r => Assert.Equal(limit.ToString(), r.Limit));
        Assert.InRange(admitted, limit, limit + refill);
        Assert.Equal(moves[^1].To, (await cluster.NodeOfAsync(key)).Port);
    }

    /// <summary>Moves <paramref name="key"/>'s hash slot from one master to another, the way redis-cli --cluster reshard does.</summary>
    private static async Task MoveSlotAsync(IConnectionMultiplexer admin, RedisCluster cluster, string key, RedisServer from, RedisServer to)
    {
        var source = admin.GetServer($"127.0.0.1:{from.Port}");
        var target = admin.GetServer($"127.0.0.1:{to.Port}");
        var slot = (long)await source.ExecuteAsync("CLUSTER", "KEYSLOT", key);
        var sourceId = (string)(await source.ExecuteAsync("CLUSTER", "MYID"))!;
        var targetId = (string)(await target.ExecuteAsync("CLUSTER", "MYID"))!;
        await target.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
        await source.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
        foreach (var moving in (RedisResult[])(await source.ExecuteAsync("CLUSTER", "GETKEYSINSLOT", slot, 100))!)
        {
            await source.ExecuteAsync("MIGRATE", "127.0.0.1", to.Port, (string)moving!, 0, 5000);
        }

        // Target first, then source, then the rest (the order of the Redis cluster spec and redis-cli): told first, the
        // source would answer MOVED to a target still IMPORTING, which answers MOVED back to the source until it is
        // told too. That redirect loop is an operator's mistake no resharding tool makes; with the nodes in list
        // order it hit a live call now and then and its error surfaced as a 503 in Closed mode.
        foreach (var node in cluster.Nodes.OrderBy(node => node == to ? 0 : node == from ? 1 : 2))
        {
            await admin.GetServer($"127.0.0.1:{node.Port}").ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        }
    }

    private static async Task<long> ScriptCallsAsync(IConnectionMultiplexer admin, RedisCluster cluster)
    {
        long calls = 0;
        foreach (var node in cluster.Nodes)
        {
            var info = await admin.GetServer($"127.0.0.1:{node.Port}").InfoAsync("commandstats");
            calls += info.SelectMany(g => g).Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval").Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..]));
        }

        return calls;
    }

    /// <summary>One redis-server or a 3-master cluster.</summary>
    private sealed class RedisStore : IAsyncDisposable
    {
        public RedisServer? Server { get; private set; }

        public RedisCluster? Cluster { get; private set; }

        public string ConnectionString => Cluster?.ConnectionString ?? Server!.ConnectionString;

        public static async Task<RedisStore> StartAsync(string kind) =>
            kind == "cluster" ? new RedisStore { Cluster = await RedisCluster.StartAsync() } : new RedisStore { Server = await RedisServer.StartAsync() };

        public async ValueTask DisposeAsync()
        {
            if (Server is not null)
            {
                await Server.DisposeAsync();
            }

            if (Cluster is not null)
            {
                await Cluster.DisposeAsync();
            }
        }
    }
}
