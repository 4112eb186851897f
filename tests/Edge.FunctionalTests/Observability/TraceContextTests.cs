using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Observability;

/// <summary>
/// The audit record's traceId and the backend's traceparent name the same trace, with Activities off (the default) and
/// on (Edge:Observability:Activities=true, ASP.NET Core's and HttpClient's Activities as before issue 13).
/// </summary>
public sealed class TraceContextTests
{
    private const string IncomingTraceId = "0af7651916cd43dd8448eb211c80319c";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_IncomingTraceParent_BackendAndRecordContinueTheTrace(bool activities)
    {
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend, activities);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/1");
        request.Headers.Add("X-Tenant-ID", "acme");
        request.Headers.Add("traceparent", $"00-{IncomingTraceId}-b7ad6b7169203331-01");
        request.Headers.Add("tracestate", "congo=t61rcWkgMzE");

        using var response = await edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(backend.Received).RequestMessage!;
        var traceParent = received.Headers!["traceparent"].Single();
        Assert.Matches($"^00-{IncomingTraceId}-[0-9a-f]{{16}}-01$", traceParent);
        Assert.DoesNotContain("b7ad6b7169203331", traceParent, StringComparison.Ordinal);
        Assert.Equal("congo=t61rcWkgMzE", received.Headers["tracestate"].Single());
        var record = await WaitForRecordAsync(edge, response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal(IncomingTraceId, record.GetProperty("data").GetProperty("traceId").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Forward_NoTraceParent_BackendAndRecordShareANewTraceId(bool activities)
    {
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend, activities);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/1");
        request.Headers.Add("X-Tenant-ID", "acme");

        using var response = await edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceParent = Assert.Single(backend.Received).RequestMessage!.Headers!["traceparent"].Single();
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", traceParent);
        var record = await WaitForRecordAsync(edge, response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal(traceParent.Substring(3, 32), record.GetProperty("data").GetProperty("traceId").GetString());
    }

    [Fact]
    public async Task Forward_ActivitiesOnButHostingLoggerOff_BackendStillContinuesTheTrace()
    {
        // Hosting creates no request Activity when its diagnostics logger is off, whatever Edge:Observability:Activities
        // says; the edge's own trace context must then still give the backend this hop's traceparent.
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend, activities: true, new Dictionary<string, string?>
        {
            // Above Fatal: Serilog's LevelAlias.Off, so the category, Critical included, is off.
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Hosting.Diagnostics"] = "6",
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/1");
        request.Headers.Add("X-Tenant-ID", "acme");
        request.Headers.Add("traceparent", $"00-{IncomingTraceId}-b7ad6b7169203331-01");

        using var response = await edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceParent = Assert.Single(backend.Received).RequestMessage!.Headers!["traceparent"].Single();
        Assert.Matches($"^00-{IncomingTraceId}-[0-9a-f]{{16}}-01$", traceParent);
        Assert.DoesNotContain("b7ad6b7169203331", traceParent, StringComparison.Ordinal);
        var record = await WaitForRecordAsync(edge, response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal(IncomingTraceId, record.GetProperty("data").GetProperty("traceId").GetString());
    }

    private static Task<EdgeHost> StartAsync(Backend backend, bool activities, Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? []) { ["Edge:Observability:Activities"] = activities ? "true" : "false" };
        return EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object>
            {
                ["orders"] = ProxyJson.Route("/orders/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
            }),
            all);
    }

    private static async Task<JsonElement> WaitForRecordAsync(EdgeHost edge, string requestId)
    {
        var path = Path.Combine(edge.Directory, "audit-decisions.ndjson");
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (File.Exists(path))
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                while (await reader.ReadLineAsync() is { Length: > 0 } line)
                {
                    var record = JsonDocument.Parse(line).RootElement;
                    if (record.GetProperty("id").GetString() == requestId)
                    {
                        return record.Clone();
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("no record " + requestId + " in " + path);
    }
}
