using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.FunctionalTests.Observability;

public sealed class ManagementEndpointsTests
{
    [Fact]
    public async Task Metrics_AfterDecisions_ContainsEdgeCounters()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
        }));
        await edge.Client.GetAsync("/orders/1");

        var metrics = await edge.Management.GetStringAsync("/metrics");

        Assert.Contains("edge_step_decisions_total{", metrics);
        Assert.Contains("reason=\"tenant_missing\"", metrics);
        Assert.Contains("edge_requests_total{", metrics);
        Assert.Matches("edge_config_reloads_total\\{[^}]*result=\"applied\"", metrics);
    }

    [Fact]
    public async Task Metrics_OpenMetricsScrape_TargetInfoNamesTheEdgeAndItsInstance()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["orders"] = ProxyJson.Route("/orders/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:InstanceId"] = "edge-eu-1" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");

        using var response = await edge.Management.SendAsync(request);
        var metrics = await response.Content.ReadAsStringAsync();

        // Before, the SDK's default: unknown_service:dotnet, the same for the edge and the writer.
        Assert.Matches("target_info\\{[^}]*service_name=\"edge-proxy\"", metrics);
        Assert.Matches("target_info\\{[^}]*service_instance_id=\"edge-eu-1\"", metrics);
    }

    [Fact]
    public async Task Metrics_Default_RequestDurationsWithoutTheDroppedInstruments()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["orders"] = ProxyJson.Route("/orders/{**rest}"),
        }));
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/orders/1")).StatusCode);

        var metrics = await edge.Management.GetStringAsync("/metrics");

        // What the dashboard and alerts read: server and backend request durations.
        Assert.Contains("\nhttp_server_request_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Contains("\nhttp_client_request_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        foreach (var dropped in DroppedSeries)
        {
            Assert.DoesNotContain("\n" + dropped, metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Metrics_EdgeShipsToWriter_ShipperCallsTaggedAndBackendCallsNot()
    {
        using var backend = Backend.Start();
        await using var writer = await Edge.AuditWriter.Tests.WriterFixture.StartAsync();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["orders"] = ProxyJson.Route("/orders/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString() });
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/orders/1")).StatusCode);
        var backendPort = new Uri(backend.Url).Port;

        // Each test process's HttpClients report to the same runtime meter: only series of this test's ports count.
        string[] shipperSeries = [];
        string[] backendSeries = [];
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var lines = (await edge.Management.GetStringAsync("/metrics")).Split('\n');
            shipperSeries = [.. lines.Where(l => l.StartsWith("http_client_request_duration_seconds_count{", StringComparison.Ordinal)
                && l.Contains($"server_port=\"{writer.BaseAddress.Port}\"", StringComparison.Ordinal))];
            backendSeries = [.. lines.Where(l => l.StartsWith("http_client_request_duration_seconds_count{", StringComparison.Ordinal)
                && l.Contains($"server_port=\"{backendPort}\"", StringComparison.Ordinal))];
            if (shipperSeries.Length > 0 && backendSeries.Length > 0)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.NotEmpty(shipperSeries);
        Assert.All(shipperSeries, line => Assert.Contains("edge_client=\"audit_shipper\"", line, StringComparison.Ordinal));
        Assert.NotEmpty(backendSeries);
        Assert.All(backendSeries, line => Assert.DoesNotContain("edge_client=", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_AllFrameworkMetricsOn_ExportsTheDroppedOnes()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["orders"] = ProxyJson.Route("/orders/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:Observability:AllFrameworkMetrics"] = "true" });
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.GetAsync("/orders/1")).StatusCode);

        var metrics = await edge.Management.GetStringAsync("/metrics");

        Assert.Contains("\nhttp_server_active_requests{", metrics, StringComparison.Ordinal);
        Assert.Contains("\nhttp_client_active_requests{", metrics, StringComparison.Ordinal);
        Assert.Contains("\naspnetcore_routing_match_attempts_total{", metrics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("true")]
    public async Task Metrics_Scrape_PassesPromtoolCheckMetrics(string allFrameworkMetrics)
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object>
            {
                ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
            }),
            new Dictionary<string, string?> { ["Edge:Observability:AllFrameworkMetrics"] = allFrameworkMetrics });
        using var allowed = new HttpRequestMessage(HttpMethod.Get, "/orders/1") { Headers = { { "X-Tenant-ID", "acme" } } };
        Assert.Equal(HttpStatusCode.OK, (await edge.Client.SendAsync(allowed)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await edge.Client.GetAsync("/orders/1")).StatusCode);

        var metrics = await edge.Management.GetStringAsync("/metrics");
        var (exit, output) = await PromtoolCheckMetricsAsync(metrics);

        Assert.True(exit == 0, output);
        // The runtime's thread-pool levels are gauges, not counters with _total.
        Assert.Contains("# TYPE dotnet_thread_pool_threads gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_thread_pool_queue_length gauge", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet_thread_pool_thread_count_total", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE dotnet_assemblies_loaded gauge", metrics, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output)> PromtoolCheckMetricsAsync(string metrics)
    {
        // test.sh installs Debian's prometheus package, whose promtool this is.
        var start = new ProcessStartInfo("/usr/bin/promtool")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }

    private static readonly string[] DroppedSeries =
    [
        "http_server_active_requests",
        "aspnetcore_routing_match_attempts",
        "http_client_active_requests",
        "http_client_open_connections",
        "http_client_request_time_in_queue",
    ];

    [Fact]
    public async Task ManagementEndpoints_OnProxyPort_NotServed()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["catch-all"] = ProxyJson.Route("/{**rest}"),
        }));

        using var metricsOnProxy = await edge.Client.GetAsync("/metrics");
        using var proxiedOnManagement = await edge.Management.GetAsync("/anything");

        // On the proxy port /metrics is just another path of the catch-all route: the backend answers, not the edge.
        Assert.Equal("backend-ok", await metricsOnProxy.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, proxiedOnManagement.StatusCode);
        Assert.Single(backend.Received);
    }

    [Theory]
    [InlineData("PUT", "/edge/bans", "GET, POST")]
    [InlineData("POST", "/edge/status", "GET")]
    [InlineData("POST", "/edge/bans/203.0.113.7", "GET, DELETE")]
    [InlineData("DELETE", "/healthz", "GET, HEAD")]
    [InlineData("POST", "/readyz", "GET, HEAD")]
    [InlineData("PUT", "/metrics", "GET, HEAD")]
    public async Task ManagementEndpoint_WrongMethod_405ProblemWithAllow(string method, string path, string allow)
    {
        // A catch-all proxy route too: on the management port it must not turn the answer into a 404 either.
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object>
        {
            ["catch-all"] = ProxyJson.Route("/{**rest}"),
        }));

        using var response = await edge.Management.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("method_not_allowed", body.RootElement.GetProperty("code").GetString());
        Assert.StartsWith(allow, string.Join(", ", response.Content.Headers.Allow), StringComparison.Ordinal);
        Assert.Empty(backend.Received);
    }

    [Fact]
    public async Task Readyz_ConfiguredRedisUp_Healthy()
    {
        await using var redis = await RedisServer.StartAsync();
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:Redis"] = redis.ConnectionString });

        using var response = await edge.Management.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await edge.Management.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Readyz_ConfiguredRedisDown_DegradedStill200NamingRedis()
    {
        await using var redis = await RedisServer.StartAsync();
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:Redis"] = redis.ConnectionString });
        Assert.Equal(HttpStatusCode.OK, (await edge.Management.GetAsync("/readyz")).StatusCode);

        redis.Kill();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        JsonElement ready;
        do
        {
            using var response = await edge.Management.GetAsync("/readyz");
            status = response.StatusCode;
            ready = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        }
        while (ready.GetProperty("status").GetString() == "Healthy" && DateTime.UtcNow < deadline && await Task.Delay(100).ContinueWith(_ => true));

        // Redis is shared by every instance: 503 here took the whole fleet out of the load balancer at once, while the
        // rate limits' outage modes are there to keep serving. The probe still says why.
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Degraded", ready.GetProperty("status").GetString());
        var redisCheck = ready.GetProperty("checks").GetProperty("redis");
        Assert.Equal("Degraded", redisCheck.GetProperty("status").GetString());
        Assert.Contains("Redis", redisCheck.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await edge.Management.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Readyz_ProbedWhileDegraded_HealthCheckServiceLogsNothing()
    {
        // Redis configured but not running: every /readyz is Degraded, and the health check service wrote a Warning line
        // per probe (200 probes, 200 lines), from anyone who reached the management port.
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}") }),
            new Dictionary<string, string?> { ["Edge:Redis"] = $"127.0.0.1:{FreePort.Next()},connectTimeout=200" });
        using var ready = JsonDocument.Parse(await edge.Management.GetStringAsync("/readyz"));
        Assert.Equal("Degraded", ready.RootElement.GetProperty("status").GetString());

        var logger = edge.Services.GetRequiredService<ILoggerFactory>()
            .CreateLogger("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService");

        Assert.False(logger.IsEnabled(LogLevel.Warning));
        Assert.False(logger.IsEnabled(LogLevel.Critical));
    }
}
