using System.Net;
using System.Text.Json;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>Without Edge:Redis the policies run in process; the clock is a FakeTimeProvider.</summary>
public sealed class RateLimitInProcessTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            RateLimitRoutes.Config(_backend.Url, new Dictionary<string, object>
            {
                ["p"] = new { Limit = 3, Window = "00:01:00", Key = "{tenant}:{header:X-User}" },
            }),
            timeProvider: _time);
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task EdgeRateLimit_OverLimit_HeadersConsistentAnd429ProblemWithRetryAfter()
    {
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            responses.Add(await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "alice")));
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], responses.Select(r => r.StatusCode));
        Assert.Equal(3, _backend.Received.Count);
        Assert.All(responses, r => Assert.Equal("3", RateLimitRoutes.Header(r, "X-RateLimit-Limit")));
        Assert.Equal(["2", "1", "0", "0", "0"], responses.Select(r => RateLimitRoutes.Header(r, "X-RateLimit-Remaining")));
        // 20 s per token: the bucket is full again (3 - remaining) * 20 s from now.
        Assert.Equal([now + 20, now + 40, now + 60, now + 60, now + 60], responses.Select(r => long.Parse(RateLimitRoutes.Header(r, "X-RateLimit-Reset")!)));
        Assert.All(responses.Take(3), r => Assert.Null(RateLimitRoutes.Header(r, "Retry-After")));

        var refused = responses[3];
        Assert.Equal("20", RateLimitRoutes.Header(refused, "Retry-After"));
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal("urn:edge:problem:rate_limited", problem.RootElement.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("X-User: fresh-1\r\nX-User: carol")]
    [InlineData("X-User: fresh-2\r\nX_User: carol")]
    public async Task EdgeRateLimit_KeyHeaderSentTwice_400HeaderRepeatedNotForwarded(string users)
    {
        for (var i = 0; i < 3; i++)
        {
            (await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "carol"))).Dispose();
        }

        var forwarded = _backend.Received.Count;

        // Before, the first copy chose the bucket: a spent client picked a fresh one for each request.
        var response = await RawHttp.SendAsync(_edge.ProxyPort,
            $"GET /limited/x HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n{users}\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Equal("header_repeated", response.ProblemCode());
        Assert.Equal(forwarded, _backend.Received.Count);
    }

    [Fact]
    public async Task EdgeRateLimit_TenantInAnotherCase_SameBucketAndForwardedAsSent()
    {
        using var first = await _edge.Client.SendAsync(RateLimitRoutes.Get(tenant: "acme", user: "dave"));
        using var second = await _edge.Client.SendAsync(RateLimitRoutes.Get(tenant: "Acme", user: "dave"));
        using var third = await _edge.Client.SendAsync(RateLimitRoutes.Get(tenant: "ACME", user: "dave"));
        using var fourth = await _edge.Client.SendAsync(RateLimitRoutes.Get(tenant: "aCmE", user: "dave"));

        // Before, each spelling had a bucket of its own: a client spent acme's quota, then went on as Acme.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            new[] { first, second, third, fourth }.Select(r => r.StatusCode));
        Assert.Equal("0", RateLimitRoutes.Header(third, "X-RateLimit-Remaining"));
        // The tenant itself is the request's, as sent: only the partition ignores its case.
        Assert.Equal(["acme", "Acme", "ACME"], _backend.Received.Select(e => e.RequestMessage!.Headers!.Single(h => h.Key.Equals("X-Edge-Tenant", StringComparison.OrdinalIgnoreCase)).Value.Single()));
    }

    [Fact]
    public async Task EdgeRateLimit_ClockAdvances_RefillsAtConfiguredRate()
    {
        for (var i = 0; i < 3; i++)
        {
            (await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "bob"))).Dispose();
        }

        using var exhausted = await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "bob"));
        _time.Advance(TimeSpan.FromSeconds(19));
        using var stillExhausted = await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "bob"));
        _time.Advance(TimeSpan.FromSeconds(1));
        using var refilled = await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "bob"));
        using var onlyOne = await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "bob"));

        Assert.Equal(HttpStatusCode.TooManyRequests, exhausted.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, stillExhausted.StatusCode);
        Assert.Equal("1", RateLimitRoutes.Header(stillExhausted, "Retry-After"));
        Assert.Equal(HttpStatusCode.OK, refilled.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, onlyOne.StatusCode);
    }

    [Fact]
    public async Task EdgeRateLimit_OtherTenantSameUser_HasItsOwnBucket()
    {
        for (var i = 0; i < 4; i++)
        {
            (await _edge.Client.SendAsync(RateLimitRoutes.Get("acme", "carol"))).Dispose();
        }

        using var otherTenant = await _edge.Client.SendAsync(RateLimitRoutes.Get("globex", "carol"));

        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
        Assert.Equal("2", RateLimitRoutes.Header(otherTenant, "X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task EdgeRateLimit_Decisions_CountedInMetrics()
    {
        (await _edge.Client.SendAsync(RateLimitRoutes.Get(user: "dave"))).Dispose();

        var metrics = await _edge.Management.GetStringAsync("/metrics");

        Assert.Contains("edge_ratelimit_decisions_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("mode=\"in_process\"", metrics, StringComparison.Ordinal);
        Assert.Contains("outcome=\"allowed\"", metrics, StringComparison.Ordinal);
    }
}
