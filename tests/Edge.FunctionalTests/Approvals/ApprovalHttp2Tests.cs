using System.Net;
using System.Net.Sockets;
using Edge.Testing;
using static Edge.FunctionalTests.Approvals.ApprovalEdge;

namespace Edge.FunctionalTests.Approvals;

/// <summary>
/// The approval step and the approvals API under HTTP/2 (h2c, prior knowledge) against a real redis-server: many streams
/// of one connection race for one approval, and exactly one wins.
/// </summary>
public sealed class ApprovalHttp2Tests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const int Streams = 10;

    [Fact]
    public async Task Retry_OneTokenOnManyStreamsOfOneConnection_ForwardsExactlyOneOthers403ApprovalInvalid()
    {
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend.Url);
        using var h2 = new Http2Client(edge);
        var id = await RequestApprovalAsync(h2.Client);
        var token = await ApproveAsync(h2.Client, id);

        var answers = await Task.WhenAll(Enumerable.Range(0, Streams).Select(_ => h2.SendAsync(Payment(token: token))));

        Assert.Equal(1, h2.Connections);
        Assert.All(answers, a => Assert.Equal(HttpVersion.Version20, a.Version));
        Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
        Assert.All(answers.Where(a => a.Status != HttpStatusCode.OK), a => Assert.Equal((HttpStatusCode.Forbidden, "approval_invalid"), (a.Status, a.Code)));
        Assert.Single(backend.Received);
    }

    [Fact]
    public async Task Approve_OneApprovalOnManyStreamsOfOneConnection_OneTokenOthers409ApprovalDecided()
    {
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend.Url);
        using var h2 = new Http2Client(edge);
        var id = await RequestApprovalAsync(h2.Client);

        var answers = await Task.WhenAll(Enumerable.Range(0, Streams).Select(_ => h2.SendAsync(Api(HttpMethod.Post, $"/_edge/approvals/{id}/approve", BobKey))));

        Assert.Equal(1, h2.Connections);
        var decided = Assert.Single(answers, a => a.Status == HttpStatusCode.OK);
        Assert.All(answers.Where(a => a != decided), a => Assert.Equal((HttpStatusCode.Conflict, "approval_decided"), (a.Status, a.Code)));
        var retry = await h2.SendAsync(Payment(token: decided.Token));
        Assert.Equal(HttpStatusCode.OK, retry.Status);
        Assert.Single(backend.Received);
    }

    [Fact]
    public async Task Approval_OtherTenantsApproverWithRedis_ListsNothingAndEveryCallIsTheUnknownIdsAnswer()
    {
        using var backend = Backend.Start();
        await using var edge = await StartAsync(backend.Url);
        using var h2 = new Http2Client(edge);
        var id = await RequestApprovalAsync(h2.Client);
        const string unknown = "0123456789abcdef0123456789abcdef";

        // The header the approver controls names acme; the caller's tenant is the one its key is bound to (globex).
        var list = await h2.SendAsync(WithTenantHeader(Api(HttpMethod.Get, "/_edge/approvals?status=all", GretaKey)));
        foreach (var call in new[] { (HttpMethod.Get, ""), (HttpMethod.Post, "/approve"), (HttpMethod.Post, "/reject") })
        {
            var other = await h2.SendAsync(WithTenantHeader(Api(call.Item1, $"/_edge/approvals/{id}{call.Item2}", GretaKey)));
            var guessed = await h2.SendAsync(WithTenantHeader(Api(call.Item1, $"/_edge/approvals/{unknown}{call.Item2}", GretaKey)));
            Assert.Equal((HttpStatusCode.NotFound, "approval_not_found"), (other.Status, other.Code));
            Assert.Equal((guessed.Status, guessed.Code, guessed.Detail), (other.Status, other.Code, other.Detail));
        }

        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal("{\"approvals\":[]}", list.Body);
        var own = await h2.SendAsync(Api(HttpMethod.Get, $"/_edge/approvals/{id}", BobKey));
        Assert.Contains("\"status\":\"pending\"", own.Body, StringComparison.Ordinal);
    }

    private static HttpRequestMessage WithTenantHeader(HttpRequestMessage request)
    {
        request.Headers.Add("X-Tenant-ID", "acme");
        return request;
    }

    private async Task<EdgeHost> StartAsync(string backendUrl)
    {
        var edge = await EdgeHost.StartAsync(Create(backendUrl), new Dictionary<string, string?>
        {
            ["Edge:Redis"] = redis.Server.ConnectionString,
            ["Kestrel:EndpointDefaults:Protocols"] = "Http2",
        });
        await edge.WaitUntilRedisConnectedAsync();
        return edge;
    }

    private sealed record Answer(HttpStatusCode Status, Version Version, string? Code, string? Detail, string? Token, string Body);

    /// <summary>An h2c client that opens one connection (counted) and multiplexes every request over it.</summary>
    private sealed class Http2Client : IDisposable
    {
        private int _connections;

        public Http2Client(EdgeHost edge)
        {
            var handler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = false,
                ConnectCallback = async (context, cancel) =>
                {
                    Interlocked.Increment(ref _connections);
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            Client = new HttpClient(new Http2Only(handler)) { BaseAddress = edge.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        }

        public HttpClient Client { get; }

        public int Connections => Volatile.Read(ref _connections);

        public static HttpRequestMessage AsHttp2(HttpRequestMessage request)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            return request;
        }

        public async Task<Answer> SendAsync(HttpRequestMessage request)
        {
            using (request)
            using (var response = await Client.SendAsync(request))
            {
                var body = await response.Content.ReadAsStringAsync();
                using var json = body.StartsWith('{') ? System.Text.Json.JsonDocument.Parse(body) : null;
                string? Member(string name) => json is not null && json.RootElement.TryGetProperty(name, out var value) ? value.GetString() : null;
                return new Answer(response.StatusCode, response.Version, Member("code"), Member("detail"), Member("token"), body);
            }
        }

        public void Dispose() => Client.Dispose();

        /// <summary>The helpers of <see cref="ApprovalEdge"/> build HTTP/1.1 requests; this sends every one as HTTP/2.</summary>
        private sealed class Http2Only(HttpMessageHandler inner) : DelegatingHandler(inner)
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
                base.SendAsync(AsHttp2(request), cancellationToken);
        }
    }
}
