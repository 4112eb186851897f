using System.Net;
using System.Text.Json;
using Edge.Proxy.Configuration;
using Edge.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>A YARP route's RateLimiterPolicy naming an Edge:RateLimits policy, on a real edge host.</summary>
public sealed class RateLimiterPolicyRouteTests
{
    private static string Config(string backendUrl, string routePolicy, object policies) =>
        ProxyJson.Create(
            backendUrl,
            new Dictionary<string, object>
            {
                ["public"] = new Dictionary<string, object>
                {
                    ["ClusterId"] = "backend",
                    ["Match"] = new { Path = "/public/{**rest}" },
                    ["RateLimiterPolicy"] = routePolicy,
                },
                ["open"] = ProxyJson.Route("/open/{**rest}"),
            },
            new { RateLimits = policies });

    /// <summary>The one exported sample of <paramref name="name"/> that carries all <paramref name="labels"/>.</summary>
    private static string MetricLine(string metrics, string name, params string[] labels) =>
        Assert.Single(metrics.Split('\n'), l => l.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(label => l.Contains(label, StringComparison.Ordinal)));

    private static object PerIp(int limit) => new Dictionary<string, object>
    {
        ["per-ip"] = new { Limit = limit, Window = "01:00:00", Key = "{ip}" },
        ["per-tenant"] = new { Limit = 100, Window = "00:01:00", Key = "{tenant}" },
    };

    [Fact]
    public async Task RateLimiterPolicy_IpKeyClientRotatingIPv6WithinItsSlash64_SharesOneBucket()
    {
        using var backend = Backend.Start();
        // The test client is a trusted proxy, so X-Forwarded-For names the client (the one rule for {ip}).
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-ip", PerIp(2)),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32" });

        var statuses = new List<HttpStatusCode>();
        foreach (var client in new[] { "2001:db8:7:1::1", "2001:db8:7:1::2", "2001:db8:7:1:ab:cd:ef:1", "2001:db8:7:2::1" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/public/x");
            request.Headers.Add("X-Forwarded-For", client);
            using var response = await edge.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        // Three addresses of one /64 count as one client (limit 2); the next /64 is another client.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK], statuses);
    }

    [Fact]
    public async Task RateLimiterPolicy_KeyHeaderSentTwice_400HeaderRepeatedNotForwarded()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-device",
            new Dictionary<string, object> { ["per-device"] = new { Limit = 1, Window = "01:00:00", Key = "{header:X-Device}" } }));
        using (var first = new HttpRequestMessage(HttpMethod.Get, "/public/x"))
        {
            first.Headers.Add("X-Device", "d-1");
            (await edge.Client.SendAsync(first)).Dispose();
        }

        // Before, the first copy chose the bucket: d-1, spent, went on as a fresh d-2 with its own copy behind.
        var response = await Hostile.RawHttp.SendAsync(edge.ProxyPort,
            "GET /public/x HTTP/1.1\r\nHost: x\r\nX-Device: d-2\r\nX-Device: d-1\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("header_repeated", response.ProblemCode());
        Assert.Single(backend.Received);
    }

    [Fact]
    public async Task RateLimiterPolicy_EdgePolicyOnRoute_AdmitsLimitThen429ProblemWithRetryAfter()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-ip", PerIp(2)));
        var forwardedBefore = backend.Received.Count;

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await edge.Client.GetAsync("/public/x");
            statuses.Add(response.StatusCode);
        }

        using var refused = await edge.Client.GetAsync("/public/x");
        using var unlimited = await edge.Client.GetAsync("/open/x");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(int.Parse(RateLimitRoutes.Header(refused, "Retry-After")!) >= 1);
        Assert.Equal("2", RateLimitRoutes.Header(refused, "X-RateLimit-Limit"));
        Assert.Equal("0", RateLimitRoutes.Header(refused, "X-RateLimit-Remaining"));
        Assert.False(string.IsNullOrEmpty(RateLimitRoutes.Header(refused, "X-Request-Id")));
        using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Equal(2, backend.Received.Count - forwardedBefore - 1);
        Assert.Equal(HttpStatusCode.OK, unlimited.StatusCode);
        var metrics = await edge.Management.GetStringAsync("/metrics");
        var deniedLine = MetricLine(metrics, "edge_requests_total", "route=\"public\"", "decision=\"deny\"");
        Assert.Contains("status_class=\"4xx\"", deniedLine, StringComparison.Ordinal);
        Assert.Equal("2", deniedLine.Split(' ')[1]);
        // Recorded like a refusal of the EdgeRateLimit step: same decision path, the route policy as deciding step.
        var stepLine = MetricLine(metrics, "edge_step_decisions_total", "route=\"public\"", "step=\"RateLimiterPolicy\"", "decision=\"deny\"", "reason=\"rate_limited\"");
        Assert.Equal("2", stepLine.Split(' ')[1]);
    }

    [Fact]
    public async Task RateLimiterPolicy_RequestAdmitted_ResponseCarriesHeadersAndAuditRecordsTheOutcome()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-ip", PerIp(2)));

        using var admitted = await edge.Client.GetAsync("/public/x");

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Equal("2", RateLimitRoutes.Header(admitted, "X-RateLimit-Limit"));
        Assert.Equal("1", RateLimitRoutes.Header(admitted, "X-RateLimit-Remaining"));
        var audit = await edge.LocalAuditDataAsync(RateLimitRoutes.Header(admitted, "X-Request-Id")!);
        Assert.Equal("allowed", audit.GetProperty("rateLimit").GetString());
    }

    [Fact]
    public async Task RateLimiterPolicy_RouteAlsoHasEdgeRateLimitStep_ResponseReportsTheBindingPolicy()
    {
        using var backend = Backend.Start();
        var policies = new Dictionary<string, object>
        {
            ["per-ip"] = new { Limit = 100, Window = "01:00:00", Key = "{ip}" },
            ["small"] = new { Limit = 3, Window = "01:00:00", Key = "{route}" },
        };
        var config = ProxyJson.Create(
            backend.Url,
            new Dictionary<string, object>
            {
                ["public"] = new Dictionary<string, object>
                {
                    ["ClusterId"] = "backend",
                    ["Match"] = new { Path = "/public/{**rest}" },
                    ["RateLimiterPolicy"] = "per-ip",
                    ["Transforms"] = new object[] { new Dictionary<string, string> { ["EdgeRateLimit"] = "small" } },
                },
            },
            new { RateLimits = policies });
        await using var edge = await EdgeHost.StartAsync(config);

        using var response = await edge.Client.GetAsync("/public/x");

        // The step's policy has fewer tokens left, so it binds, whichever decided first.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", RateLimitRoutes.Header(response, "X-RateLimit-Limit"));
        Assert.Equal("2", RateLimitRoutes.Header(response, "X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task Start_RateLimiterPolicyNotInEdgeRateLimits_RefusedWithRouteLocation()
    {
        using var backend = Backend.Start();

        var exception = await Assert.ThrowsAsync<EdgeConfigException>(() => EdgeHost.StartAsync(Config(backend.Url, "per-ipp", PerIp(2))));

        var error = Assert.Single(exception.Errors, e => !e.IsWarning);
        Assert.Equal("ReverseProxy:Routes:public:RateLimiterPolicy", error.Location);
        Assert.Contains("'per-ipp' is not defined in Edge:RateLimits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RateLimiterPolicyKeyedOnTenant_RefusedBecauseItRunsBeforeTheSteps()
    {
        using var backend = Backend.Start();

        var exception = await Assert.ThrowsAsync<EdgeConfigException>(() => EdgeHost.StartAsync(Config(backend.Url, "per-tenant", PerIp(2))));

        var error = Assert.Single(exception.Errors, e => !e.IsWarning);
        Assert.Equal("ReverseProxy:Routes:public:RateLimiterPolicy", error.Location);
        Assert.Contains("{tenant}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_RateLimiterPolicyUnknownName_RefusedAndOldPolicyKeepsServing()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-ip", PerIp(1)));
        using var first = await edge.Client.GetAsync("/public/x");

        await edge.WriteConfigAsync(Config(backend.Url, "nope", PerIp(1)));

        var location = await RateLimitRoutes.WaitUntilAsync(
            async () =>
            {
                using var status = JsonDocument.Parse(await edge.Management.GetStringAsync("/edge/status"));
                var lastError = status.RootElement.GetProperty("lastError");
                return lastError.ValueKind == JsonValueKind.Object ? lastError.GetProperty("errors")[0].GetProperty("location").GetString() : null;
            },
            l => l is not null,
            "reload refused");
        using var afterRefusedReload = await edge.Client.GetAsync("/public/x");
        Assert.Equal("ReverseProxy:Routes:public:RateLimiterPolicy", location);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, afterRefusedReload.StatusCode);
    }

    [Fact]
    public async Task Reload_RateLimiterPolicyLimitChangedAndPolicyAddedAfterStartup_BothTakeEffect()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(Config(backend.Url, "per-ip", PerIp(1)));
        using var first = await edge.Client.GetAsync("/public/x");
        using var second = await edge.Client.GetAsync("/public/x");

        await edge.WriteConfigAsync(Config(backend.Url, "per-ip", PerIp(3)));
        var raised = await RateLimitRoutes.WaitUntilAsync(
            async () =>
            {
                using var response = await edge.Client.GetAsync("/public/x");
                return (response.StatusCode, Limit: RateLimitRoutes.Header(response, "X-RateLimit-Limit"));
            },
            r => r.StatusCode == HttpStatusCode.OK,
            "raised limit applied");

        // A policy name that did not exist at startup, used by the route on the same reload that defines it.
        var added = new Dictionary<string, object> { ["added-later"] = new { Limit = 1, Window = "01:00:00", Key = "{route}:{header:X-Client}" } };
        await edge.WriteConfigAsync(Config(backend.Url, "added-later", added));

        // Only the new policy (Limit 1) refuses with X-RateLimit-Limit 1; until the endpoints swap, per-ip (3) answers.
        await RateLimitRoutes.WaitUntilAsync(
            async () =>
            {
                using var probe = new HttpRequestMessage(HttpMethod.Get, "/public/x");
                probe.Headers.Add("X-Client", "probe");
                using var response = await edge.Client.SendAsync(probe);
                return RateLimitRoutes.Header(response, "X-RateLimit-Limit");
            },
            limit => limit == "1",
            "policy added after startup applied");
        var client = new List<HttpStatusCode>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/public/x");
            request.Headers.Add("X-Client", "c1");
            using var response = await edge.Client.SendAsync(request);
            client.Add(response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, raised.StatusCode);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests], client);
    }
}
