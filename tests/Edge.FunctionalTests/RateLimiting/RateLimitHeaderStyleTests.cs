using System.Net;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.RateLimiting;

public sealed class RateLimitHeaderStyleTests
{
    [Fact]
    public async Task EdgeRateLimit_DraftHeadersAndDeltaReset_MatchTheDecision()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            RateLimitRoutes.Config(backend.Url, new Dictionary<string, object>
            {
                ["orders-api"] = new { Limit = 100, Window = "00:01:00", Headers = "Both", ResetFormat = "Delta" },
            }, "orders-api"),
            timeProvider: time);

        using var first = await edge.Client.SendAsync(RateLimitRoutes.Get());
        using var second = await edge.Client.SendAsync(RateLimitRoutes.Get());

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("\"orders-api\";q=100;w=60", RateLimitRoutes.Header(second, "RateLimit-Policy"));
        Assert.Equal("\"orders-api\";r=98;t=2", RateLimitRoutes.Header(second, "RateLimit")); // 2 tokens * 0.6 s = 1.2 s, rounded up
        Assert.Equal("98", RateLimitRoutes.Header(second, "X-RateLimit-Remaining"));
        Assert.Equal("2", RateLimitRoutes.Header(second, "X-RateLimit-Reset"));
        Assert.Equal("\"orders-api\";r=99;t=1", RateLimitRoutes.Header(first, "RateLimit"));
    }

    [Theory]
    [InlineData("Delta", false)]
    [InlineData("EpochSeconds", false)]
    [InlineData("Delta", true)]
    public async Task EdgeRateLimit_BackendAnswersLater_DeltasCountFromTheResponse(string resetFormat, bool twoPolicies)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
        using var backend = WireMock.Server.WireMockServer.Start();
        // The backend takes 10 s (on the edge's clock) to answer.
        backend.Given(WireMock.RequestBuilders.Request.Create().UsingAnyMethod()).RespondWith(WireMock.ResponseBuilders.Response.Create()
            .WithCallback(_ =>
            {
                time.Advance(TimeSpan.FromSeconds(10));
                return new WireMock.ResponseMessage { StatusCode = 200 };
            }));
        var policies = new Dictionary<string, object>
        {
            // 1 token per 30 s: after one request the bucket is full again 30 s after the decision.
            ["p"] = new { Limit = 2, Window = "00:01:00", Headers = "Both", ResetFormat = resetFormat },
            ["loose"] = new { Limit = 100, Window = "00:01:00", Headers = "Both" },
        };
        var steps = new List<Dictionary<string, string>> { new() { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" } };
        if (twoPolicies)
        {
            steps.Add(new() { ["EdgeRateLimit"] = "loose" });
        }

        steps.Add(new() { ["EdgeRateLimit"] = "p" });
        var config = ProxyJson.Create(
            backend.Urls[0] + "/",
            new Dictionary<string, object> { ["limited"] = ProxyJson.Route("/limited/{**rest}", [.. steps]) },
            new { RateLimits = policies });
        await using var edge = await EdgeHost.StartAsync(config, timeProvider: time);

        using var response = await edge.Client.SendAsync(RateLimitRoutes.Get());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Sent 10 s after the decision: 20 s to go, as the epoch form (decision time + 30 s) says too. Before: t=30.
        Assert.Equal("\"p\";r=1;t=20", RateLimitRoutes.Header(response, "RateLimit"));
        var expectedReset = resetFormat == "Delta" ? "20" : DateTimeOffset.Parse("2026-03-01T12:00:30Z").ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expectedReset, RateLimitRoutes.Header(response, "X-RateLimit-Reset"));
    }

    [Theory]
    [InlineData("big", "small", "EdgeRateLimit")]
    [InlineData("small", "big", "EdgeRateLimit")]
    [InlineData("big", "small", "edgeratelimit")]
    public async Task EdgeRateLimit_TwoPoliciesOnOneRoute_HeadersReportTheBindingPolicy(string first, string second, string stepKey)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
        using var backend = Backend.Start();
        var config = ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object>
            {
                ["limited"] = ProxyJson.Route(
                    "/limited/{**rest}",
                    new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                    new Dictionary<string, string> { ["EdgeRateLimit"] = first },
                    new Dictionary<string, string> { [stepKey] = second }),
            },
            new
            {
                RateLimits = new Dictionary<string, object>
                {
                    ["big"] = new { Limit = 100, Window = "00:01:00", Headers = "Both", ResetFormat = "Delta" },
                    ["small"] = new { Limit = 3, Window = "00:00:30", Headers = "Both", ResetFormat = "Delta" },
                },
            });
        await using var edge = await EdgeHost.StartAsync(config, timeProvider: time);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            responses.Add(await edge.Client.SendAsync(RateLimitRoutes.Get()));
        }

        // The small policy binds from the first request on: 2 of 3 left against 99 of 100.
        Assert.Equal("3", RateLimitRoutes.Header(responses[0], "X-RateLimit-Limit"));
        Assert.Equal("2", RateLimitRoutes.Header(responses[0], "X-RateLimit-Remaining"));
        Assert.Equal("\"small\";q=3;w=30", RateLimitRoutes.Header(responses[0], "RateLimit-Policy"));
        Assert.Equal(HttpStatusCode.OK, responses[2].StatusCode);
        Assert.Equal("0", RateLimitRoutes.Header(responses[2], "X-RateLimit-Remaining"));

        var refused = responses[3];
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("3", RateLimitRoutes.Header(refused, "X-RateLimit-Limit"));
        Assert.Equal("0", RateLimitRoutes.Header(refused, "X-RateLimit-Remaining"));
        Assert.Equal("\"small\";q=3;w=30", RateLimitRoutes.Header(refused, "RateLimit-Policy"));
        Assert.Equal("\"small\";r=0;t=30", RateLimitRoutes.Header(refused, "RateLimit"));
        Assert.Equal("10", RateLimitRoutes.Header(refused, "Retry-After"));
        responses.ForEach(response => response.Dispose());
    }

    [Fact]
    public async Task EdgeRateLimit_HiddenPolicyBesideAVisibleOne_VisibleHeadersUntilTheHiddenOneRefuses()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
        using var backend = Backend.Start();
        var config = ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object>
            {
                ["limited"] = ProxyJson.Route(
                    "/limited/{**rest}",
                    new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                    new Dictionary<string, string> { ["EdgeRateLimit"] = "visible" },
                    new Dictionary<string, string> { ["EdgeRateLimit"] = "hidden" }),
            },
            new
            {
                RateLimits = new Dictionary<string, object>
                {
                    ["visible"] = new { Limit = 100, Window = "00:01:00", Headers = "Legacy" },
                    ["hidden"] = new { Limit = 1, Window = "00:01:00", Headers = "None" },
                },
            });
        await using var edge = await EdgeHost.StartAsync(config, timeProvider: time);

        using var admitted = await edge.Client.SendAsync(RateLimitRoutes.Get());
        using var refused = await edge.Client.SendAsync(RateLimitRoutes.Get());

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal("100", RateLimitRoutes.Header(admitted, "X-RateLimit-Limit"));
        Assert.Equal("99", RateLimitRoutes.Header(admitted, "X-RateLimit-Remaining"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("60", RateLimitRoutes.Header(refused, "Retry-After"));
        Assert.Null(RateLimitRoutes.Header(refused, "X-RateLimit-Limit"));
        Assert.Null(RateLimitRoutes.Header(refused, "X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task EdgeRateLimit_HeadersNone_NoRateLimitHeadersButStill429()
    {
        // A stopped clock: on the real one a loaded host let a second pass between the requests (Retry-After 599).
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-03-01T12:00:00Z"));
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object>
        {
            ["p"] = new { Limit = 1, Window = "00:10:00", Headers = "None" },
        }), timeProvider: time);

        using var first = await edge.Client.SendAsync(RateLimitRoutes.Get());
        using var second = await edge.Client.SendAsync(RateLimitRoutes.Get());

        Assert.Null(RateLimitRoutes.Header(first, "X-RateLimit-Limit"));
        Assert.Null(RateLimitRoutes.Header(first, "RateLimit-Policy"));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal("600", RateLimitRoutes.Header(second, "Retry-After"));
    }

    [Fact]
    public async Task EdgeRateLimit_UnknownPolicy_StartupFailsNamingTheStep()
    {
        using var backend = Backend.Start();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => EdgeHost.StartAsync(RateLimitRoutes.Config(backend.Url, new Dictionary<string, object>
        {
            ["p"] = new { Limit = 1 },
        }, "missing")));

        Assert.Contains("rate-limit policy 'missing' is not defined in Edge:RateLimits", error.ToString(), StringComparison.Ordinal);
    }
}
