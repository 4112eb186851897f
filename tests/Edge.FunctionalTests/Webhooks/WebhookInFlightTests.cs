using System.Net;
using System.Text.Json;
using Edge.Testing;
using WireMock.Server;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>
/// A duplicate of a delivery whose first attempt is still at the backend is not a replay of an accepted delivery: with
/// <c>ReplayStatus: 200</c> it was answered 200, and when the first attempt then failed the sender had been told a lost
/// delivery succeeded. It gets 409 <c>delivery_in_flight</c> whatever <c>ReplayStatus</c> says.
/// </summary>
public sealed class WebhookInFlightTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly string _secret = Path.GetTempFileName();

    public void Dispose() => File.Delete(_secret);

    [Fact]
    public async Task ReplayStatus200_DuplicateWhileFirstAttemptAtBackend_409InFlightThenFailedFirstReleasedForRetry()
    {
        await using var backend = GatedBackend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJsonFor(backend.Url));
        var delivery = Delivery();

        var first = edge.Client.SendAsync(delivery.ToRequest());
        await backend.FirstArrived.WaitAsync(TimeSpan.FromSeconds(30));
        using var duplicate = await edge.Client.SendAsync(delivery.ToRequest());
        using var redelivered = await edge.Client.SendAsync(delivery.WithHeader("X-GitHub-Delivery", Guid.NewGuid().ToString()).ToRequest());
        backend.AnswerFirst(500);
        using var failed = await first;
        using var retried = await edge.Client.SendAsync(delivery.ToRequest());
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());

        await AssertInFlightAsync(edge, duplicate, "delivery_in_flight");
        await AssertInFlightAsync(edge, redelivered, "delivery_in_flight:signature");
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("backend-ok", await retried.Content.ReadAsStringAsync());
        await AssertReplayAsync(edge, replayed);
        Assert.Equal(2, backend.Received);
    }

    [Fact]
    public async Task ReplayStatus200_FirstAttemptTimesOutAtBackend_DuplicateInFlightThenRetryForwarded()
    {
        await using var backend = GatedBackend.Start();
        var document = System.Text.Json.Nodes.JsonNode.Parse(ProxyJsonFor(backend.Url))!;
        document["ReverseProxy"]!["Clusters"]!["backend"]!["HttpRequest"] = new System.Text.Json.Nodes.JsonObject { ["ActivityTimeout"] = "00:00:02" };
        await using var edge = await EdgeHost.StartAsync(document.ToJsonString());
        var delivery = Delivery();

        var first = edge.Client.SendAsync(delivery.ToRequest());
        await backend.FirstArrived.WaitAsync(TimeSpan.FromSeconds(30));
        using var duplicate = await edge.Client.SendAsync(delivery.ToRequest());
        using var timedOut = await first;
        using var retried = await edge.Client.SendAsync(delivery.ToRequest());
        using var replayed = await edge.Client.SendAsync(delivery.ToRequest());

        await AssertInFlightAsync(edge, duplicate, "delivery_in_flight");
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("backend-ok", await retried.Content.ReadAsStringAsync());
        await AssertReplayAsync(edge, replayed);
        Assert.Equal(2, backend.Received);
    }

    [Fact]
    public async Task ReplayStatus200_DuplicateAtOtherEdgeWhileFirstAttemptAtBackend_409InFlightThenReplayStatusOnceAccepted()
    {
        await using var backend = GatedBackend.Start();
        await using var edges = await StartTwoEdgesAsync(backend);
        var (first, second) = (edges.First, edges.Second);
        var delivery = Delivery();

        var accepted = first.Client.SendAsync(delivery.ToRequest());
        await backend.FirstArrived.WaitAsync(TimeSpan.FromSeconds(30));
        using var duplicate = await second.Client.SendAsync(delivery.ToRequest());
        using var redelivered = await second.Client.SendAsync(delivery.WithHeader("X-GitHub-Delivery", Guid.NewGuid().ToString()).ToRequest());
        backend.AnswerFirst(200);
        using var answered = await accepted;
        using var replayed = await second.Client.SendAsync(delivery.ToRequest());

        await AssertInFlightAsync(second, duplicate, "delivery_in_flight");
        await AssertInFlightAsync(second, redelivered, "delivery_in_flight:signature");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        await AssertReplayAsync(second, replayed);
        Assert.Equal(1, backend.Received);
    }

    [Fact]
    public async Task ReplayStatus200_FirstAttemptFailsAtOneEdge_RetryAtOtherEdgeForwarded()
    {
        await using var backend = GatedBackend.Start();
        await using var edges = await StartTwoEdgesAsync(backend);
        var (first, second) = (edges.First, edges.Second);
        var delivery = Delivery();

        var attempt = first.Client.SendAsync(delivery.ToRequest());
        await backend.FirstArrived.WaitAsync(TimeSpan.FromSeconds(30));
        backend.AnswerFirst(503);
        using var failed = await attempt;
        using var retried = await second.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal("backend-ok", await retried.Content.ReadAsStringAsync());
        Assert.Equal(2, backend.Received);
    }

    private static async Task AssertInFlightAsync(EdgeHost edge, HttpResponseMessage response, string reason)
    {
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter?.Delta);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("delivery_in_flight", problem.RootElement.GetProperty("code").GetString());
        var record = await edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((409, "deny", "EdgeWebhook", reason), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(),
            record.GetProperty("step").GetString(), record.GetProperty("reason").GetString()));
    }

    private static async Task AssertReplayAsync(EdgeHost edge, HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("replayed_delivery", problem.RootElement.GetProperty("code").GetString());
        var record = await edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((200, "deny", "replayed_delivery"), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(),
            record.GetProperty("reason").GetString()));
    }

    /// <summary>Two edges sharing one Redis (so one replay store) in front of <paramref name="backend"/>, both connected to it.</summary>
    private async Task<EdgePair> StartTwoEdgesAsync(GatedBackend backend)
    {
        var json = ProxyJsonFor(backend.Url);
        var settings = new Dictionary<string, string?> { ["Edge:Redis"] = redis.Server.ConnectionString };
        var first = await EdgeHost.StartAsync(json, settings);
        EdgeHost second;
        try
        {
            second = await EdgeHost.StartAsync(json, settings);
        }
        catch
        {
            await first.DisposeAsync();
            throw;
        }

        var edges = new EdgePair(first, second);
        try
        {
            await first.WaitUntilRedisConnectedAsync();
            await second.WaitUntilRedisConnectedAsync();
            return edges;
        }
        catch
        {
            await edges.DisposeAsync();
            throw;
        }
    }

    private static Delivery Delivery()
    {
        var id = Guid.NewGuid().ToString();
        var body = WebhookSigner.Utf8("{\"ping\": \"" + id + "\"}");
        return new Delivery("/hooks/github", body, [new("X-Hub-Signature-256", WebhookSigner.HubSignature(WebhookSchemes.GitHubSecret, body)), new("X-GitHub-Delivery", id)]);
    }

    private string ProxyJsonFor(string backendUrl)
    {
        File.WriteAllText(_secret, WebhookSchemes.GitHubSecret);
        return ProxyJson.Create(
            backendUrl,
            new Dictionary<string, object> { ["github"] = ProxyJson.Route("/hooks/github", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }) },
            new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + _secret }, ReplayStatus = 200 } } });
    }

    private sealed class EdgePair(EdgeHost first, EdgeHost second) : IAsyncDisposable
    {
        public EdgeHost First => first;

        public EdgeHost Second => second;

        public async ValueTask DisposeAsync()
        {
            await second.DisposeAsync();
            await first.DisposeAsync();
        }
    }

    /// <summary>A WireMock backend that holds the first request it gets until the test says how to answer it; later ones get 200.</summary>
    private sealed class GatedBackend : IAsyncDisposable
    {
        private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<int> _firstAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly WireMockServer _server = WireMockServer.Start();
        private int _received;

        private GatedBackend() =>
            _server.Given(WireMock.RequestBuilders.Request.Create().UsingAnyMethod()).RespondWith(WireMock.ResponseBuilders.Response.Create().WithCallback(async _ =>
            {
                if (Interlocked.Increment(ref _received) == 1)
                {
                    _firstArrived.TrySetResult();
                    return (WireMock.IResponseMessage)new WireMock.ResponseMessage { StatusCode = await _firstAnswer.Task };
                }

                var ok = new WireMock.ResponseMessage { StatusCode = 200, BodyData = new WireMock.Util.BodyData { BodyAsString = "backend-ok", DetectedBodyType = WireMock.Types.BodyType.String } };
                return (WireMock.IResponseMessage)ok;
            }));

        public string Url => _server.Urls[0].TrimEnd('/') + "/";

        public Task FirstArrived => _firstArrived.Task;

        public int Received => Volatile.Read(ref _received);

        public static GatedBackend Start() => new();

        public void AnswerFirst(int status) => _firstAnswer.TrySetResult(status);

        public ValueTask DisposeAsync()
        {
            _firstAnswer.TrySetResult(500);
            _server.Stop();
            return ValueTask.CompletedTask;
        }
    }
}
