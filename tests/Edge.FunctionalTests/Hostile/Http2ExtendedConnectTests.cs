using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A WebSocket over HTTP/2 (extended CONNECT, RFC 8441), which YARP forwards to an HTTP/1.1 backend as an
/// <c>Upgrade: websocket</c> request, on a route that authenticates: the step runs on the CONNECT as on any request.
/// </summary>
public sealed class Http2ExtendedConnectTests : IAsyncLifetime
{
    private const string ApiKey = "h2-connect-suite-api-key-91d0";

    private readonly ConcurrentQueue<string> _heads = new();
    private TcpBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = TcpBackend.Start(AnswerAsync);
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object> { ["keys"] = ProxyJson.Route("/keys/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }) },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["partner-keys"] = new { Type = "ApiKey", Keys = new object[] { new { Sha256 = HostileEdge.Sha256Hex(ApiKey), Principal = "h2-ws-client", Tenant = "acme" } } },
                    },
                }),
            new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData(false, 401)]
    [InlineData(true, 200)]
    public async Task ExtendedConnect_RouteWithAuthentication_StepDecidesAndTheRecordSaysWhatTheClientGot(bool withKey, int status)
    {
        var path = "/keys/ws-" + Guid.NewGuid().ToString("N");
        List<(string Name, string Value)> headers =
        [
            (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", path), (":authority", "edge.example"),
            ("sec-websocket-version", "13"),
        ];
        if (withKey)
        {
            headers.Add(("x-api-key", ApiKey));
        }

        var (answered, problemCode) = withKey ? (await TunnelStatusAsync(headers), null) : await RefusalAsync(headers);

        Assert.Equal(status, answered);
        Assert.Equal(withKey, _heads.Any(h => h.StartsWith($"GET {path} HTTP/1.1\r\n", StringComparison.Ordinal)));
        var record = await _edge.LocalAuditDataWhereAsync(r => r.TryGetProperty("path", out var p) && p.GetString() == path);
        Assert.Equal((status, withKey ? "allow" : "deny"), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString()));
        if (withKey)
        {
            Assert.Equal("h2-ws-client", record.GetProperty("subject").GetProperty("principal").GetString());
        }
        else
        {
            Assert.Equal("authentication_required", problemCode);
        }
    }

    [Theory]
    [InlineData("connect-udp")]
    [InlineData("h2c")]
    [InlineData("webtransport")]
    public async Task ExtendedConnect_ProtocolOtherThanWebSocket_Returns405AndNothingForwarded(string protocol)
    {
        // YARP tunnels only a WebSocket: any other :protocol was sent on as a plain CONNECT, which HttpClient could not
        // send to the backend, so the client got 502 backend_unavailable, audited as allow and counted against the
        // backend (passive health checks), for a request no backend saw.
        var path = "/keys/" + protocol + "-" + Guid.NewGuid().ToString("N");
        List<(string Name, string Value)> headers =
        [
            (":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"), (":path", path), (":authority", "edge.example"),
            ("x-api-key", ApiKey),
        ];

        var (status, problemCode) = await RefusalAsync(headers);

        Assert.Equal((405, "method_not_allowed"), (status, problemCode));
        Assert.DoesNotContain(_heads, h => h.Contains(path, StringComparison.Ordinal));
        var record = await _edge.LocalAuditDataWhereAsync(r => r.TryGetProperty("path", out var p) && p.GetString() == path);
        Assert.Equal((405, "deny", "Edge"), (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(), record.GetProperty("step").GetString()));
    }

    private async Task<(int Status, string? Code)> RefusalAsync(List<(string Name, string Value)> headers)
    {
        var outcome = await RawHttp2.ExchangeAsync(_edge.ProxyPort, headers, []);
        return (outcome.Status, outcome.ProblemCode());
    }

    /// <summary>Opens the tunnel and returns the status of its response headers (the stream stays open until the test ends).</summary>
    private async Task<int> TunnelStatusAsync(List<(string Name, string Value)> headers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var stream = await RawHttp2.ConnectAsync(client, _edge.ProxyPort, false, timeout.Token);
        await stream.WriteAsync(RawHttp2.PrefaceAndHeaders(headers, endStream: false).ToArray(), timeout.Token);
        var header = new byte[9];
        while (true)
        {
            await stream.ReadExactlyAsync(header, timeout.Token);
            var payload = new byte[(header[0] << 16) | (header[1] << 8) | header[2]];
            await stream.ReadExactlyAsync(payload, timeout.Token);
            if (header[3] == 0x1 && header[8] == 1)
            {
                // :status 200 is index 8 of HPACK's static table (RFC 7541 Appendix A).
                return payload[0] == 0x88 ? 200 : -payload[0];
            }
        }
    }

    private async Task AnswerAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var buffer = new byte[16384];
                var read = await stream.ReadAsync(buffer, cancellationToken);
                var head = Encoding.Latin1.GetString(buffer, 0, read);
                _heads.Enqueue(head);
                var key = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))?.Split(':', 2)[1].Trim() ?? "";
                var accept = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), cancellationToken);
                while (await stream.ReadAsync(buffer, cancellationToken) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
                // The edge closed the tunnel.
            }
        }
    }
}
