using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Edge.FunctionalTests.Auditing;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// The end of an upgraded connection (a WebSocket through the edge to a real ASP.NET Core WebSocket backend). The
/// request's record is written at the switch with <c>bytesOut</c> 0; a <c>dev.edge.audit.tunnel.closed.v1</c> record
/// must say what crossed the tunnel each way, how long it lasted and how it ended. Each tunnel exchanges one client
/// frame "ping" (masked: 2 + 4 + 4 = 10 bytes) and one backend frame "pong!" (2 + 5 = 7 bytes) before it ends.
/// </summary>
public sealed class TunnelAuditTests : IAsyncLifetime
{
    private const string ApiKey = "tunnel-audit-suite-api-key-5e21";
    private const long PingFrameBytes = 10;
    private const long PongFrameBytes = 7;

    private static readonly byte[] PingFrame = [0x81, 0x84, 0, 0, 0, 0, (byte)'p', (byte)'i', (byte)'n', (byte)'g'];

    private readonly List<EdgeHost> _edges = [];
    private WebApplication _backend = null!;
    private string _backendUrl = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _backend = builder.Build();
        _backend.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        _backend.Run(ServeAsync);
        await _backend.StartAsync();
        _backendUrl = _backend.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/";
    }

    public async Task DisposeAsync()
    {
        foreach (var edge in _edges)
        {
            await edge.DisposeAsync();
        }

        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Upgrade_BackendClosesTheWebSocket_TunnelRecordSaysBackendClosedWithBytesEachWayAndTheIdentity()
    {
        var edge = await StartEdgeAsync();
        using var client = new TcpClient();
        var requestId = await OpenTunnelAsync(edge, client, "/ws/backend-closes");

        Assert.Equal(0, await ReadToEndAsync(client));
        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal(("closed", "backend_closed", "ws"), (record.GetProperty("decision").GetString(), AuditData.Reason(record), record.GetProperty("route").GetString()));
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
        Assert.Equal(("acme", "ws-client"), (TenantOf(edge, requestId), record.GetProperty("subject").GetProperty("principal").GetString()));
        var attributes = record.GetProperty("attributes");
        Assert.Equal("ws", attributes.GetProperty("route").GetString());
        Assert.True(long.Parse(attributes.GetProperty("durationMs").GetString()!, CultureInfo.InvariantCulture) >= 0);
        Assert.False(attributes.TryGetProperty("error", out _), "a tunnel both sides ended cleanly has no error");
        var request = await edge.LocalAuditDataAsync(requestId);
        Assert.Equal((101, 0L), (request.GetProperty("status").GetInt32(), AuditData.BytesOut(request)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Upgrade_ClientClosesOrResetsItsConnection_TunnelRecordSaysClientClosed(bool reset)
    {
        var edge = await StartEdgeAsync();
        string requestId;
        using (var client = new TcpClient())
        {
            requestId = await OpenTunnelAsync(edge, client, "/ws/hold");
            if (reset)
            {
                // Linger 0: the close is a TCP RST, not a FIN.
                client.LingerState = new LingerOption(true, 0);
            }
        }

        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal("client_closed", AuditData.Reason(record));
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
    }

    [Fact]
    public async Task Upgrade_BackendAbortsItsConnection_TunnelRecordSaysBackendClosed()
    {
        var edge = await StartEdgeAsync();
        using var client = new TcpClient();
        var requestId = await OpenTunnelAsync(edge, client, "/ws/abort");

        // The backend aborts its connection when this second frame arrives.
        await client.GetStream().WriteAsync(PingFrame);
        await ReadToEndAsync(client);
        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal("backend_closed", AuditData.Reason(record));
        Assert.Equal((2 * PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
    }

    [Fact]
    public async Task Upgrade_ShutdownDrainWindowEndsWithTheTunnelOpen_TunnelRecordSaysServerShutdown()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1));
        using var client = new TcpClient();
        var requestId = await OpenTunnelAsync(edge, client, "/ws/hold");

        var stopping = edge.StopAsync();
        await ReadToEndAsync(client);
        await stopping;
        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal("server_shutdown", AuditData.Reason(record));
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
    }

    [Fact]
    public async Task Upgrade_NoByteEitherWayForTheActivityTimeout_TunnelRecordSaysActivityTimeout()
    {
        var edge = await StartEdgeAsync(activityTimeout: "00:00:01");
        using var client = new TcpClient();
        var requestId = await OpenTunnelAsync(edge, client, "/ws/hold");

        await ReadToEndAsync(client);
        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal("activity_timeout", AuditData.Reason(record));
        Assert.Equal("UpgradeActivityTimeout", record.GetProperty("attributes").GetProperty("error").GetString());
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
    }

    [Fact]
    public async Task ExtendedConnect_Http2WebSocketTheBackendCloses_TunnelRecordSaysBackendClosedWithBytesEachWay()
    {
        var edge = await StartEdgeAsync(settings: new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" });
        using var handler = new SocketsHttpHandler();
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("X-Api-Key", ApiKey);
        socket.Options.SetRequestHeader("X-Tenant-ID", "acme");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{edge.ProxyPort}/ws/backend-closes"), invoker, timeout.Token);
        var requestId = socket.HttpResponseHeaders!["X-Request-Id"].Single();
        await socket.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[16];
        var pong = await socket.ReceiveAsync(buffer, timeout.Token);
        await Assert.ThrowsAnyAsync<WebSocketException>(async () => await socket.ReceiveAsync(buffer, timeout.Token));
        var record = await TunnelRecordAsync(edge, requestId);

        Assert.Equal((HttpStatusCode.OK, "pong!"), (socket.HttpStatusCode, Encoding.ASCII.GetString(buffer, 0, pong.Count)));
        Assert.Equal("backend_closed", AuditData.Reason(record));
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
        Assert.Equal("ws-client", record.GetProperty("subject").GetProperty("principal").GetString());
        var request = await edge.LocalAuditDataAsync(requestId);
        Assert.Equal(200, request.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Upgrade_SpoolReachesItsCapWhileTheTunnelIsOpen_TunnelRecordStillSpooledNotDropped()
    {
        var edge = await StartEdgeAsync(settings: SpoolAtCap.Settings(32 * 1024));
        var spool = SpoolAtCap.Spool(edge);
        string requestId;
        using (var client = new TcpClient())
        {
            requestId = await OpenTunnelAsync(edge, client, "/ws/hold");
            await SpoolAtCap.FillAsync(edge, "/ws-optional/");
            using var refused = await SendAsync(edge, "/ws/plain");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            var (recordsBefore, droppedBefore) = (spool.DurableSequence, spool.Metrics.Dropped);

            client.Close();
            await SpoolAtCap.WaitForAppendOrDropAsync(spool, recordsBefore, droppedBefore);

            // Before, the tunnel's end was refused at the cap like an unadmitted request's record: the trail had the
            // switch (101) and nothing of what crossed the tunnel, and no client could be refused any more for it.
            Assert.Equal(droppedBefore, spool.Metrics.Dropped);
        }

        var record = Assert.Single(SpoolAtCap.Records(spool), r => r.GetProperty("type").GetString() == "dev.edge.audit.tunnel.closed.v1"
            && r.GetProperty("data").GetProperty("attributes").GetProperty("requestId").GetString() == requestId).GetProperty("data");
        Assert.Equal("client_closed", AuditData.Reason(record));
        Assert.Equal((PingFrameBytes, PongFrameBytes), (record.GetProperty("bytesIn").GetInt64(), AuditData.BytesOut(record)));
    }

    [Fact]
    public async Task NotUpgraded_PlainRequestRefusedUpgradeAndUpgradeTheBackendDidNotSwitch_NoTunnelRecord()
    {
        var edge = await StartEdgeAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort);
        var stream = client.GetStream();

        // Kestrel serves one connection's requests in turn: the closing request's end means the middleware of the others returned.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /ws/plain HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nX-Api-Key: {ApiKey}\r\n\r\n"
            + $"GET /ws/plain HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n{UpgradeHeaders}\r\n"
            + $"GET /ws/plain HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nX-Api-Key: {ApiKey}\r\n{UpgradeHeaders}\r\n"
            + "GET /ws/plain HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nConnection: close\r\n\r\n"));
        var answers = new StreamReader(stream, Encoding.ASCII);
        var text = await answers.ReadToEndAsync();
        var ids = text.Split("\r\n").Where(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase)).Select(l => l["X-Request-Id:".Length..].Trim()).ToList();
        // A tunnel afterwards: its record is queued after any the three requests above could have had.
        using var later = new TcpClient();
        var laterId = await OpenTunnelAsync(edge, later, "/ws/backend-closes");
        await ReadToEndAsync(later);
        await TunnelRecordAsync(edge, laterId);

        Assert.Equal(4, ids.Count);
        Assert.Equal(["200", "401", "200", "401"], StatusLines(text));
        Assert.Equal([laterId], TunnelRequestIds(edge));
    }

    private const string UpgradeHeaders = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    private static List<string> StatusLines(string text) =>
        Regex.Matches(text, @"HTTP/1\.1 (\d{3}) ").Select(m => m.Groups[1].Value).ToList();

    /// <summary>
    /// Opens a WebSocket through the edge on <paramref name="path"/> (with the route's API key), sends the "ping" frame,
    /// reads the backend's "pong!" frame; returns the request id of the 101.
    /// </summary>
    private static async Task<string> OpenTunnelAsync(EdgeHost edge, TcpClient client, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {ApiKey}\r\nX-Tenant-ID: acme\r\n{UpgradeHeaders}\r\n"), timeout.Token);
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            await stream.ReadExactlyAsync(one, timeout.Token);
            head.Append((char)one[0]);
        }

        Assert.StartsWith("HTTP/1.1 101 ", head.ToString(), StringComparison.Ordinal);
        await stream.WriteAsync(PingFrame, timeout.Token);
        var pong = new byte[PongFrameBytes];
        await stream.ReadExactlyAsync(pong, timeout.Token);
        Assert.Equal("pong!", Encoding.ASCII.GetString(pong, 2, 5));
        return head.ToString().Split("\r\n").Single(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))["X-Request-Id:".Length..].Trim();
    }

    private static async Task<HttpResponseMessage> SendAsync(EdgeHost edge, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Tenant-ID", "acme");
        request.Headers.Add("X-Api-Key", ApiKey);
        return await edge.Client.SendAsync(request);
    }

    /// <summary>How many more bytes the client receives until the edge closes or resets its connection.</summary>
    private static async Task<int> ReadToEndAsync(TcpClient client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[4096];
        var total = 0;
        try
        {
            int read;
            while ((read = await client.GetStream().ReadAsync(buffer, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (IOException)
        {
            // A reset: the tunnel ended all the same.
        }

        return total;
    }

    private static Task<JsonElement> TunnelRecordAsync(EdgeHost edge, string requestId) =>
        edge.LocalAuditDataWhereAsync(data => data.GetProperty("decision").GetString() == "closed"
            && data.GetProperty("attributes").GetProperty("requestId").GetString() == requestId);

    /// <summary>The <c>tenant</c> extension of the tunnel record naming <paramref name="requestId"/>.</summary>
    private static string? TenantOf(EdgeHost edge, string requestId) =>
        Records(edge).Single(r => r.GetProperty("type").GetString() == "dev.edge.audit.tunnel.closed.v1"
            && r.GetProperty("data").GetProperty("attributes").GetProperty("requestId").GetString() == requestId).GetProperty("tenant").GetString();

    private static List<string> TunnelRequestIds(EdgeHost edge) =>
        Records(edge).Where(r => r.GetProperty("type").GetString() == "dev.edge.audit.tunnel.closed.v1")
            .Select(r => r.GetProperty("data").GetProperty("attributes").GetProperty("requestId").GetString()!).ToList();

    private static List<JsonElement> Records(EdgeHost edge)
    {
        using var stream = new FileStream(Path.Combine(edge.Directory, "audit-decisions.ndjson"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        List<JsonElement> records = [];
        while (reader.ReadLine() is { } line)
        {
            if (line.EndsWith('}'))
            {
                records.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        return records;
    }

    private async Task<EdgeHost> StartEdgeAsync(TimeSpan? shutdownTimeout = null, IDictionary<string, string?>? settings = null, string? activityTimeout = null)
    {
        var proxyJson = JsonNode.Parse(ProxyJson.Create(
            _backendUrl,
            new Dictionary<string, object>
            {
                ["ws"] = ProxyJson.Route("/ws/{**rest}",
                    new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                    new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }),
                // Plain requests whose records may be dropped at the spool's cap: they fill it in the cap test.
                ["ws-optional"] = new Dictionary<string, object>
                {
                    ["ClusterId"] = "backend",
                    ["Match"] = new { Path = "/ws-optional/{**rest}" },
                    ["Metadata"] = new Dictionary<string, string> { ["EdgeAudit"] = "Optional" },
                },
            },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["partner-keys"] = new
                    {
                        Type = "ApiKey",
                        Keys = new object[] { new { Sha256 = HostileEdge.Sha256Hex(ApiKey), Principal = "ws-client", Tenant = "acme" } },
                    },
                },
            }))!;
        if (activityTimeout is not null)
        {
            proxyJson["ReverseProxy"]!["Clusters"]!["backend"]!["HttpRequest"] = new JsonObject { ["ActivityTimeout"] = activityTimeout };
        }

        var edge = await EdgeHost.StartAsync(
            proxyJson.ToJsonString(),
            settings,
            configure: shutdownTimeout is { } timeout ? builder => builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = timeout) : null);
        _edges.Add(edge);
        return edge;
    }

    /// <summary>
    /// <c>/ws/plain</c> answers 200 without switching (also to an upgrade request); the others accept the WebSocket, read
    /// one message and answer "pong!", then: <c>backend-closes</c> returns (the connection closes with no close frame),
    /// <c>abort</c> aborts the connection when a second message arrives, <c>hold</c> waits until the edge ends it.
    /// </summary>
    private static async Task ServeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (!context.WebSockets.IsWebSocketRequest || path.EndsWith("/plain", StringComparison.Ordinal))
        {
            await context.Response.WriteAsync("ok");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        try
        {
            var buffer = new byte[64];
            await socket.ReceiveAsync(buffer, context.RequestAborted);
            await socket.SendAsync("pong!"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, context.RequestAborted);
            if (path.EndsWith("/abort", StringComparison.Ordinal))
            {
                await socket.ReceiveAsync(buffer, context.RequestAborted);
                context.Abort();
            }
            else if (path.EndsWith("/hold", StringComparison.Ordinal))
            {
                while (true)
                {
                    await socket.ReceiveAsync(buffer, context.RequestAborted);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The edge ended the tunnel.
        }
    }
}
