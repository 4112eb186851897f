using System.Net;
using Edge.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>Two real edges sharing one real redis-server.</summary>
public sealed class RateLimitRedisTests(ITestOutputHelper output) : IAsyncLifetime
{
    private RedisServer _redis = null!;
    private Backend _backend = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _backend = Backend.Start();
    }

    public async Task DisposeAsync()
    {
        _backend.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task EdgeRateLimit_TwoInstancesStrict_AdmitExactlyTheLimit()
    {
        const int limit = 40;
        // A generous deadline and Closed outage mode: any fallback would show as a 503, never as an extra admission.
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Strict", OnRedisUnavailable = "Closed", DecisionDeadline = "00:00:02" };
        await using var a = await StartEdgeAsync(policy);
        await using var b = await StartEdgeAsync(policy);
        var forwardedBefore = _backend.Received.Count;

        var responses = await SendConcurrentlyAsync([a, b], total: limit * 6, user: "alice");

        Assert.DoesNotContain(responses, r => r.Status == HttpStatusCode.ServiceUnavailable);
        var admitted = responses.Where(r => r.Status == HttpStatusCode.OK).ToList();
        Assert.Equal(limit, admitted.Count);
        Assert.Equal(limit, _backend.Received.Count - forwardedBefore);
        Assert.Equal(Enumerable.Range(0, limit).Select(i => i.ToString()), admitted.Select(r => r.Remaining!).OrderBy(int.Parse));
        Assert.All(responses, r => Assert.Equal(limit.ToString(), r.Limit));
        var refused = responses.Where(r => r.Status == HttpStatusCode.TooManyRequests).ToList();
        Assert.Equal(limit * 5, refused.Count);
        Assert.All(refused, r => Assert.True(int.Parse(r.RetryAfter!) >= 1));
        Assert.All(refused, r => Assert.Equal("0", r.Remaining));
    }

    [Fact]
    public async Task EdgeRateLimit_TwoInstancesLease_WithinBoundAndFarFewerRedisCalls()
    {
        const int limit = 200;
        const int maxBatch = 20;
        var policy = new { Limit = limit, Window = "01:00:00", Mode = "Lease", LeaseMaxBatch = maxBatch, LeaseDuration = "00:00:30", OnRedisUnavailable = "Closed", DecisionDeadline = "00:00:02" };
        await using var a = await StartEdgeAsync(policy);
        await using var b = await StartEdgeAsync(policy);
        var callsBefore = await ScriptCallsAsync();

        var responses = await SendConcurrentlyAsync([a, b], total: limit * 5, user: "bob");

        var calls = await ScriptCallsAsync() - callsBefore;
        var admitted = responses.Count(r => r.Status == HttpStatusCode.OK);
        output.WriteLine($"lease: {admitted} admitted of {responses.Count} requests (limit {limit}), {calls} script calls");
        Assert.DoesNotContain(responses, r => r.Status == HttpStatusCode.ServiceUnavailable);
        // Documented bound: no refill during the test, so never more than the limit; at most the unspent lease of
        // each instance (LeaseMaxBatch) is lost.
        Assert.InRange(admitted, limit - (2 * maxBatch), limit);
        Assert.True(calls * 5 <= responses.Count, $"{calls} script calls for {responses.Count} requests");
    }

    [Fact]
    public async Task EdgeRateLimit_Keys_PrefixedHashTaggedPerTenantWithTtl()
    {
        await using var edge = await StartEdgeAsync(new { Limit = 5, Window = "00:01:00", Key = "{tenant}:{header:X-User}", DecisionDeadline = "00:00:02" });

        (await edge.Client.SendAsync(RateLimitRoutes.Get("acme", "alice"))).Dispose();
        (await edge.Client.SendAsync(RateLimitRoutes.Get("globex", "alice"))).Dispose();

        using var connection = _redis.Connect();
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var keys = server.Keys(pattern: "edge:rl:*:alice}").Select(k => (string)k!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["edge:rl:tb:p:{acme:alice}", "edge:rl:tb:p:{globex:alice}"], keys);
        foreach (var key in keys)
        {
            Assert.NotNull(await connection.GetDatabase().KeyTimeToLiveAsync(key));
        }
    }

    [Theory]
    [InlineData("Local")]
    [InlineData("Open")]
    [InlineData("Closed")]
    public async Task EdgeRateLimit_RedisPaused_OutageModeAppliesWithoutHangingAndRecovers(string mode)
    {
        await using var edge = await StartEdgeAsync(new { Limit = 4, Window = "01:00:00", OnRedisUnavailable = mode, LocalShare = 0.5, DecisionDeadline = "00:00:00.500" });
        using var healthy = await edge.Client.SendAsync(RateLimitRoutes.Get(user: "u1"));
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("3", RateLimitRoutes.Header(healthy, "X-RateLimit-Remaining"));

        _redis.Pause();
        List<Observed> during;
        try
        {
            during = await SendSequentiallyAsync(edge, 6, "u2");
        }
        finally
        {
            _redis.Resume();
        }

        // No request hangs: each one came back (the client timeout is a hang guard, not a latency assertion).
        Assert.Equal(6, during.Count);
        switch (mode)
        {
            case "Local":
                // Half the limit, in process: 2 admitted, then 429 with the local limit in the headers.
                Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], during.Select(r => r.Status));
                Assert.All(during, r => Assert.Equal("2", r.Limit));
                break;
            case "Open":
                Assert.All(during, r => Assert.Equal(HttpStatusCode.OK, r.Status));
                Assert.All(during, r => Assert.Null(r.Remaining));
                break;
            default:
                Assert.All(during, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.Status));
                Assert.All(during, r => Assert.Equal("rate_limit_unavailable", r.Code));
                Assert.All(during, r => Assert.True(int.Parse(r.RetryAfter!) >= 1));
                break;
        }

        // The record says what the client got: its reason is the problem code, then why the outage mode answered
        // (it was rate_limited_local_fallback and rate_limit_redis_unavailable, neither a code any client saw).
        foreach (var refused in during.Where(r => r.Code is not null))
        {
            var data = await edge.LocalAuditDataAsync(refused.RequestId!);
            Assert.Equal((int)refused.Status, data.GetProperty("status").GetInt32());
            Assert.StartsWith(refused.Code + ":", data.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        // Recovery: the breaker probes again and the shared bucket answers (u1 has 3 of 4 left in Redis).
        var recovered = await RateLimitRoutes.WaitUntilAsync(
            () => SendAsync(edge, "u1"),
            r => r.Status == HttpStatusCode.OK && r.Limit == "4" && r.Remaining is not null,
            "shared limiting after Resume");
        // 3 were left; a probe abandoned at its deadline may still have been applied by Redis later (a token spent
        // without an admission, never an extra admission), so at most 2 remain.
        Assert.InRange(int.Parse(recovered.Remaining!), 0, 2);
    }

    [Fact]
    public async Task EdgeRateLimit_RedisKilledThenRestarted_LocalShareThenSharedLimitingResumes()
    {
        var policy = new { Limit = 4, Window = "01:00:00", OnRedisUnavailable = "Local", LocalShare = 0.5, DecisionDeadline = "00:00:01" };
        await using var a = await StartEdgeAsync(policy);
        await using var b = await StartEdgeAsync(policy);

        _redis.Kill();
        var down = new List<Observed>();
        down.AddRange(await SendSequentiallyAsync(a, 4, "carol"));
        down.AddRange(await SendSequentiallyAsync(b, 4, "carol"));

        // Each instance holds half the limit: 2 + 2 = the global limit, never more.
        Assert.Equal(4, down.Count(r => r.Status == HttpStatusCode.OK));

        await _redis.RestartAsync();
        var restarted = System.Diagnostics.Stopwatch.StartNew();
        await RateLimitRoutes.WaitUntilAsync(() => SendAsync(a, "probe-a"), r => r.Limit == "4", "edge a back on Redis");
        await RateLimitRoutes.WaitUntilAsync(() => SendAsync(b, "probe-b"), r => r.Limit == "4", "edge b back on Redis");
        // Reported, not asserted tightly (a shared machine): reconnect in the background plus the 500 ms probe interval.
        output.WriteLine($"shared limiting resumed on both edges {restarted.Elapsed.TotalMilliseconds:F0} ms after redis-server answered PING again");

        var up = new List<Observed>();
        up.AddRange(await SendSequentiallyAsync(a, 3, "dave"));
        up.AddRange(await SendSequentiallyAsync(b, 3, "dave"));
        Assert.Equal(4, up.Count(r => r.Status == HttpStatusCode.OK));
        Assert.All(up, r => Assert.Equal("4", r.Limit));
    }

    [Theory]
    [InlineData("Open")]
    [InlineData("Local")]
    public async Task EdgeRateLimit_RedisDownBackendSendsItsOwnCounts_BackendCountsNeverBesideTheEdgeLimit(string mode)
    {
        // A backend that rate-limits on its own: its counts must not pass for the edge's.
        using var backend = WireMock.Server.WireMockServer.Start();
        backend.Given(WireMock.RequestBuilders.Request.Create().UsingAnyMethod()).RespondWith(WireMock.ResponseBuilders.Response.Create()
            .WithStatusCode(200)
            .WithHeader("X-RateLimit-Remaining", "999")
            .WithHeader("X-RateLimit-Reset", "1")
            .WithHeader("RateLimit", "\"backend\";r=999;t=1"));
        var policy = new { Limit = 5, Window = "00:01:00", Key = "{tenant}", OnRedisUnavailable = mode, Headers = "Both" };
        await using var edge = await EdgeHost.StartAsync(
            RateLimitRoutes.Config(backend.Urls[0] + "/", new Dictionary<string, object> { ["p"] = policy }),
            new Dictionary<string, string?> { ["Edge:Redis"] = _redis.ConnectionString });
        await edge.WaitUntilRedisConnectedAsync();

        _redis.Kill();
        using var response = await edge.Client.SendAsync(RateLimitRoutes.Get());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("5", RateLimitRoutes.Header(response, "X-RateLimit-Limit"));
        Assert.Equal("\"p\";q=5;w=60", RateLimitRoutes.Header(response, "RateLimit-Policy"));
        if (mode == "Open")
        {
            // Redis's count is unknown: only the limit is reported (before: the backend's Remaining 999 beside Limit 5).
            Assert.Null(RateLimitRoutes.Header(response, "X-RateLimit-Remaining"));
            Assert.Null(RateLimitRoutes.Header(response, "X-RateLimit-Reset"));
            Assert.Null(RateLimitRoutes.Header(response, "RateLimit"));
        }
        else
        {
            Assert.Equal("4", RateLimitRoutes.Header(response, "X-RateLimit-Remaining"));
            Assert.Equal("\"p\";r=4;t=12", RateLimitRoutes.Header(response, "RateLimit"));
        }
    }

    /// <summary>Starts an edge and waits until its decisions come from Redis (the connection is made in the background).</summary>
    private async Task<EdgeHost> StartEdgeAsync(object policy)
    {
        var values = WithUserKey(policy);
        var edge = await EdgeHost.StartAsync(
            RateLimitRoutes.Config(_backend.Url, new Dictionary<string, object> { ["p"] = values }),
            new Dictionary<string, string?> { ["Edge:Redis"] = _redis.ConnectionString });
        var limit = values["Limit"]!.ToString();
        await RateLimitRoutes.WaitUntilAsync(
            () => SendAsync(edge, "warm-up-" + Guid.NewGuid().ToString("N")),
            r => r.Status == HttpStatusCode.OK && r.Limit == limit && r.Remaining is not null,
            "edge deciding on Redis");
        return edge;
    }

    private static Dictionary<string, object?> WithUserKey(object policy)
    {
        var values = policy.GetType().GetProperties().ToDictionary(p => p.Name, p => p.GetValue(policy));
        values.TryAdd("Key", "{tenant}:{header:X-User}");
        // With less than the whole limit locally, a fallback decision is visible in X-RateLimit-Limit.
        values.TryAdd("LocalShare", 0.5);
        return values;
    }

    private async Task<long> ScriptCallsAsync()
    {
        using var connection = _redis.Connect();
        var info = await connection.GetServer(connection.GetEndPoints()[0]).InfoAsync("commandstats");
        return info.SelectMany(g => g).Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval")
            .Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..]));
    }

    private static async Task<List<Observed>> SendConcurrentlyAsync(EdgeHost[] edges, int total, string user)
    {
        using var gate = new SemaphoreSlim(32);
        var tasks = Enumerable.Range(0, total).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                return await SendAsync(edges[i % edges.Length], user);
            }
            finally
            {
                gate.Release();
            }
        });
        return [.. await Task.WhenAll(tasks)];
    }

    private static async Task<List<Observed>> SendSequentiallyAsync(EdgeHost edge, int count, string user)
    {
        var list = new List<Observed>();
        for (var i = 0; i < count; i++)
        {
            list.Add(await SendAsync(edge, user));
        }

        return list;
    }

    private static async Task<Observed> SendAsync(EdgeHost edge, string user)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await edge.Client.SendAsync(RateLimitRoutes.Get(user: user), timeout.Token);
        string? code = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
            code = problem.RootElement.GetProperty("code").GetString();
        }

        return new Observed(
            response.StatusCode,
            RateLimitRoutes.Header(response, "X-RateLimit-Limit"),
            RateLimitRoutes.Header(response, "X-RateLimit-Remaining"),
            RateLimitRoutes.Header(response, "Retry-After"),
            code,
            RateLimitRoutes.Header(response, "X-Request-Id"));
    }

    private sealed record Observed(HttpStatusCode Status, string? Limit, string? Remaining, string? RetryAfter, string? Code, string? RequestId);
}
