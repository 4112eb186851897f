using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Requests the server cut off, not the client: a graceful shutdown whose drain window ends with the request still in
/// flight, and a client reading the response slower than Kestrel's <c>MinResponseDataRate</c>. Each was recorded as
/// the client's abort (<c>499 client_aborted</c>). Every test stops its own edge and reads the records the stopped edge
/// left in its local file, so they also show the record is written before the process would exit.
/// </summary>
public sealed class ServerAbortTests : IAsyncLifetime
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HoldingBackend _backend;
    private readonly string _secretVariable = "EDGE_SERVER_ABORT_GITHUB_" + Guid.NewGuid().ToString("N");
    private EdgeHost? _edge;

    public ServerAbortTests() => _backend = new HoldingBackend(AnswerAsync);

    public Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, "server-abort-github-secret");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_edge is not null)
        {
            await _edge.DisposeAsync();
        }

        await _backend.DisposeAsync();
        Environment.SetEnvironmentVariable(_secretVariable, null);
    }

    [Fact]
    public async Task Shutdown_RequestStillWaitingWhenDrainWindowEnds_AuditedAs503ServerShutdownWithNothingSent()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1));
        using var client = await SendAsync(edge, "GET /legacy/hold HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
        var requestId = await ArrivedAsync("/legacy/hold");

        var stopping = edge.StopAsync();
        var received = await ReadToEndAsync(client);
        await stopping;
        var audit = await edge.LocalAuditDataAsync(requestId);

        Assert.Empty(received);
        Assert.Equal((503, "allow", "server_shutdown", 0L), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), Reason(audit), BytesOut(audit)));
    }

    [Fact]
    public async Task Shutdown_WithWriter_RecordOfTheRequestItCutOffIsSpooledAndShippedAfterRestart()
    {
        // Past the drain window the host's stop token has fired, so the shipper's drain cannot ship; the record must be
        // in the spool by then, and reach the writer from the next edge on the same spool.
        var token = "EDGE_SERVER_ABORT_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(token, "server-abort-ingest-token-0123456789");
        await using var writer = await Edge.AuditWriter.Tests.WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{token}"]);
        var spool = Directory.CreateTempSubdirectory("edge-spool-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["Edge:Audit:WriterUrl"] = writer.BaseAddress.ToString(),
            ["Edge:Audit:IngestToken"] = $"env:{token}",
            ["Edge:Audit:SpoolPath"] = spool,
        };
        try
        {
            var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1), settings: settings);
            using var client = await SendAsync(edge, "GET /legacy/hold-spooled HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
            var requestId = await ArrivedAsync("/legacy/hold-spooled");
            await edge.StopAsync();
            // Disposed before the restart: the spool is one edge's at a time.
            await edge.DisposeAsync();
            _edge = null;

            await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1), settings: settings);
            var stored = await StoredAsync(writer, requestId);
            using var leaf = JsonDocument.Parse(stored.Leaf);

            Assert.Equal(("server_shutdown", 503), (stored.Reason, leaf.RootElement.GetProperty("data").GetProperty("status").GetInt32()));
        }
        finally
        {
            if (_edge is not null)
            {
                await _edge.DisposeAsync();
                _edge = null;
            }

            Environment.SetEnvironmentVariable(token, null);
            Directory.Delete(spool, recursive: true);
        }
    }

    [Fact]
    public async Task Shutdown_Http2RequestStillWaitingWhenDrainWindowEnds_AuditedAs503ServerShutdown()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1), http2: true);
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await RawHttp2.ConnectAsync(client, edge.ProxyPort, tls: false, timeout.Token);
        await stream.WriteAsync(RawHttp2.PrefaceAndHeaders(
            [(":method", "GET"), (":scheme", "http"), (":path", "/legacy/hold-h2"), (":authority", "x"), ("x-tenant-id", "acme")], endStream: true).ToArray(), timeout.Token);
        var requestId = await ArrivedAsync("/legacy/hold-h2");

        var stopping = edge.StopAsync();
        var outcome = await RawHttp2.ReadOutcomeAsync(stream, timeout.Token);
        await stopping;
        var audit = await edge.LocalAuditDataAsync(requestId);

        // Kestrel's GOAWAY when the shutdown starts, then the connection ends with no answer on the stream.
        Assert.Equal(0, outcome.Status);
        Assert.Equal((503, "server_shutdown", 0L), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
    }

    [Fact]
    public async Task Shutdown_BodyStillArrivingOnBodyReadingRoute_DenyByThatStepAuditedAs503ServerShutdown()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1));
        using var client = await SendAsync(edge,
            "POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: sha256=" + new string('0', 64) + "\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
        // Kestrel sends 100 Continue when the webhook step starts buffering the body; the client sends part of it.
        Assert.Equal(100, (await ReadHeadAsync(client)).Status);
        await client.GetStream().WriteAsync("{\"partial\":"u8.ToArray());

        var stopping = edge.StopAsync();
        var received = await ReadToEndAsync(client);
        await stopping;
        var audit = await edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == "/hooks/github");

        Assert.Empty(received);
        Assert.Equal((503, "deny", "EdgeWebhook", "server_shutdown", 0L),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), Reason(audit), BytesOut(audit)));
    }

    [Fact]
    public async Task Shutdown_RequestAnsweredWithinDrainWindow_ClientGetsTheAnswerAndRecordSaysIt()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(30));
        using var client = await SendAsync(edge, "GET /legacy/released HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
        var requestId = await ArrivedAsync("/legacy/released");

        var stopping = edge.StopAsync();
        // The backend answers once the shutdown has begun, well within its drain window.
        await WaitAsync(edge.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        _release.SetResult();
        var received = Encoding.ASCII.GetString(await ReadToEndAsync(client));
        await stopping;
        var audit = await edge.LocalAuditDataAsync(requestId);

        Assert.StartsWith("HTTP/1.1 200 ", received, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\ndone!", received, StringComparison.Ordinal);
        Assert.Equal((200, "allow", (string?)null), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), Reason(audit)));
    }

    [Fact]
    public async Task Shutdown_ClientLeavesWithinDrainWindow_StillAuditedAs499ClientAborted()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(30));
        var client = await SendAsync(edge, "GET /legacy/hold-left HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
        var requestId = await ArrivedAsync("/legacy/hold-left");

        var stopping = edge.StopAsync();
        await WaitAsync(edge.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        // The client gives up during the drain window: its abort, not the edge's.
        client.Dispose();
        await stopping;
        var audit = await edge.LocalAuditDataAsync(requestId);

        Assert.Equal((499, "client_aborted"), (audit.GetProperty("status").GetInt32(), Reason(audit)));
    }

    [Fact]
    public async Task Shutdown_ResponseBodyStillStreamingWhenDrainWindowEnds_IncompleteRecordSaysServerShutdown()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(1));
        using var client = await SendAsync(edge, "GET /legacy/stream HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
        var (status, requestId) = await ReadHeadAsync(client);

        var stopping = edge.StopAsync();
        var body = await ReadToEndAsync(client);
        await stopping;
        var request = await edge.LocalAuditDataAsync(requestId);
        var incomplete = await IncompleteRecordAsync(edge, requestId);

        Assert.Equal((200, 200), (status, request.GetProperty("status").GetInt32()));
        Assert.InRange(body.Length, 0, 999_999);
        Assert.Equal(("incomplete", "server_shutdown"), (incomplete.GetProperty("decision").GetString(), Reason(incomplete)));
    }

    [Fact]
    public async Task SlowReader_BelowMinResponseDataRate_IncompleteRecordSaysResponseTimeoutNotClientAborted()
    {
        // The default (240 bytes/s after 5 s) would take minutes to fill with the forwarder's 64 KiB writes.
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(5),
            kestrel: limits => limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 1_000_000, gracePeriod: TimeSpan.FromSeconds(2)));
        using var client = await SendAsync(edge, "GET /legacy/flood HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\n\r\n");
        var (status, requestId) = await ReadHeadAsync(client);

        // The client reads nothing more and keeps its connection open: Kestrel gives up on it.
        var incomplete = await IncompleteRecordAsync(edge, requestId);
        var body = await ReadToEndAsync(client);
        var request = await edge.LocalAuditDataAsync(requestId);

        Assert.Equal((200, 200), (status, request.GetProperty("status").GetInt32()));
        Assert.InRange(body.Length, 0, FloodLength - 1);
        Assert.Equal(("incomplete", "response_timeout"), (incomplete.GetProperty("decision").GetString(), Reason(incomplete)));
    }

    [Fact]
    public async Task SlowReader_Http2BelowMinResponseDataRate_IncompleteRecordSaysResponseTimeout()
    {
        var edge = await StartEdgeAsync(shutdownTimeout: TimeSpan.FromSeconds(5), http2: true,
            kestrel: limits => limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 1_000_000, gracePeriod: TimeSpan.FromSeconds(2)));
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stream = await RawHttp2.ConnectAsync(client, edge.ProxyPort, tls: false, timeout.Token);
        var request = RawHttp2.PrefaceAndHeaders(
            [(":method", "GET"), (":scheme", "http"), (":path", "/legacy/flood-h2"), (":authority", "x"), ("x-tenant-id", "acme")], endStream: true);
        // Flow control is not what stops the body: the client grants the largest windows, then reads nothing.
        request.AddRange(RawHttp2.Frame(0x4, 0, 0, [0x00, 0x04, 0x7F, 0xFF, 0xFF, 0xFF]));
        request.AddRange(RawHttp2.Frame(0x8, 0, 0, [0x7F, 0xFF, 0x00, 0x00]));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        var requestId = await ArrivedAsync("/legacy/flood-h2");

        var incomplete = await IncompleteRecordAsync(edge, requestId);
        var audited = await edge.LocalAuditDataAsync(requestId);

        Assert.Equal(200, audited.GetProperty("status").GetInt32());
        Assert.Equal(("incomplete", "response_timeout"), (incomplete.GetProperty("decision").GetString(), Reason(incomplete)));
    }

    private const long FloodLength = 1L << 32;

    private static async Task<Edge.Audit.Storage.StoredRecord> StoredAsync(Edge.AuditWriter.Tests.WriterFixture writer, string requestId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(writer.StorePath))
            {
                using var store = Edge.Audit.Storage.AuditStore.OpenReadOnly(writer.StorePath);
                if (store.Export(new Edge.Audit.Storage.RecordQuery()).FirstOrDefault(r => r.Id == requestId) is { } record)
                {
                    return record;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the writer did not store {requestId} within 15 s");
    }

    private async Task<EdgeHost> StartEdgeAsync(
        TimeSpan shutdownTimeout, bool http2 = false, Action<KestrelServerLimits>? kestrel = null, IDictionary<string, string?>? settings = null)
    {
        settings = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        if (http2)
        {
            settings["Kestrel:EndpointDefaults:Protocols"] = "Http2";
        }

        var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["legacy"] = ProxyJson.Route("/legacy/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
                    ["github"] = ProxyJson.Route("/hooks/github", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
                },
                new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable } } } }),
            settings,
            configure: builder =>
            {
                builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = shutdownTimeout);
                if (kestrel is not null)
                {
                    builder.WebHost.ConfigureKestrel(options => kestrel(options.Limits));
                }
            });
        _edge ??= edge;
        return edge;
    }

    private static async Task<TcpClient> SendAsync(EdgeHost edge, string request)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request));
        return client;
    }

    private Task<string> ArrivedAsync(string path) => _backend.ArrivedAsync(path);

    private static Task WaitAsync(CancellationToken token)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => fired.TrySetResult());
        return fired.Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>Reads a response head byte by byte (so no body byte is taken), returning its status and request id (none on a 100 Continue).</summary>
    private static async Task<(int Status, string RequestId)> ReadHeadAsync(TcpClient client)
    {
        var stream = client.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await stream.ReadAsync(one).AsTask().WaitAsync(TimeSpan.FromSeconds(15)));
            head.Append((char)one[0]);
        }

        var text = head.ToString();
        var requestId = text.Split("\r\n").SingleOrDefault(l => l.StartsWith("X-Request-Id:", StringComparison.OrdinalIgnoreCase))?["X-Request-Id:".Length..].Trim();
        return (int.Parse(text.AsSpan(9, 3), CultureInfo.InvariantCulture), requestId ?? "");
    }

    /// <summary>Everything the client receives until the edge closes or resets the connection.</summary>
    private static async Task<byte[]> ReadToEndAsync(TcpClient client)
    {
        var received = new MemoryStream();
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await client.GetStream().ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // A reset: what came before it is what the client got.
        }

        return received.ToArray();
    }

    /// <summary>The incomplete-response record (<c>dev.edge.audit.response.incomplete.v1</c>) naming <paramref name="requestId"/>.</summary>
    private static Task<JsonElement> IncompleteRecordAsync(EdgeHost edge, string requestId) =>
        edge.LocalAuditDataWhereAsync(data => data.TryGetProperty("attributes", out var attributes)
            && attributes.TryGetProperty("requestId", out var named) && named.GetString() == requestId);

    private static string? Reason(JsonElement data) => data.TryGetProperty("reason", out var reason) ? reason.GetString() : null;

    private static long? BytesOut(JsonElement data) => data.TryGetProperty("bytesOut", out var bytes) ? bytes.GetInt64() : null;

    /// <summary>
    /// Never answers (<c>hold</c>), answers once the test releases it (<c>released</c>), starts a long body and stalls
    /// (<c>stream</c>), or sends a body as fast as the edge takes it (<c>flood</c>).
    /// </summary>
    private async Task AnswerAsync(string path, NetworkStream stream, CancellationToken cancellationToken)
    {
        switch (path)
        {
            case "/legacy/released":
                await _release.Task.WaitAsync(cancellationToken);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\ndone!"u8.ToArray(), cancellationToken);
                break;
            case "/legacy/stream":
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"u8.ToArray(), cancellationToken);
                await stream.WriteAsync(new byte[1000], cancellationToken);
                break;
            case "/legacy/flood" or "/legacy/flood-h2":
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {FloodLength}\r\n\r\n"), cancellationToken);
                var chunk = new byte[65536];
                while (true)
                {
                    await stream.WriteAsync(chunk, cancellationToken);
                }
        }
    }
}
