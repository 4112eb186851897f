using System.Text.Json.Nodes;
using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

/// <summary>
/// The body of a route whose steps read it is buffered among the request transforms, while the forwarder's activity
/// timeout (the cluster's <c>HttpRequest.ActivityTimeout</c>) already runs. A body still arriving when it ends could
/// never be forwarded: it is refused as a body timeout, not left to fail as a backend timeout the backend never saw.
/// </summary>
public sealed class BodyActivityTimeoutTests : IAsyncLifetime
{
    private readonly string _secretVariable = "EDGE_TEST_ACTIVITY_" + Guid.NewGuid().ToString("N");
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, "activity-timeout-webhook-secret");
        _backend = Backend.Start();
        var document = JsonNode.Parse(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object> { ["hooks"] = ProxyJson.Route("/hooks/{**rest}", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }) },
            new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable } } } }))!;
        document["ReverseProxy"]!["Clusters"]!["backend"]!["HttpRequest"] = new JsonObject { ["ActivityTimeout"] = "00:00:02" };
        _edge = await EdgeHost.StartAsync(document.ToJsonString());
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Environment.SetEnvironmentVariable(_secretVariable, null);
    }

    [Fact]
    public async Task BufferedBody_StillArrivingWhenTheActivityTimeoutEnds_408BodyTimeoutAndAudited()
    {
        // 1,200 bytes a second: fast enough for Kestrel's minimum data rate, far too slow for 100 KB in two seconds.
        var response = await RawHttp.TrickleAsync(
            _edge.ProxyPort,
            $"POST /hooks/slow HTTP/1.1\r\nHost: x\r\n{Hostile.HostileEdge.UnverifiedSignatureHeader}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            new byte[300],
            TimeSpan.FromMilliseconds(250));

        Assert.Equal(408, response.Status);
        Assert.Equal("body_timeout", response.ProblemCode());
        Assert.Empty(_backend.Received);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((408, "deny", "body_timeout:activity_timeout"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }
}
