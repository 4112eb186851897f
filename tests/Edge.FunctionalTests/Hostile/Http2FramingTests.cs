using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/2 (h2c with prior knowledge, enabled here with <c>Kestrel:EndpointDefaults:Protocols=Http2</c>; the edge's default
/// cleartext endpoint speaks only HTTP/1.1) sent as raw frames, since HttpClient derives <c>:authority</c> from Host and
/// never sends connection-specific headers.
/// </summary>
public sealed class Http2FramingTests : IAsyncLifetime
{
    private const string WebhookPath = "/hooks/github";

    /// <summary>A signature that does not verify: the webhook step reads the body before it can tell.</summary>
    private const string UnverifiedSignature = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

    private const int ProtocolError = 0x1;

    private readonly string _secretVariable = "EDGE_H2_GITHUB_" + Guid.NewGuid().ToString("N");
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, "h2-framing-github-secret");
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["open"] = ProxyJson.Route("/open/{**rest}"),
                    ["github"] = ProxyJson.Route(WebhookPath + "/{**rest}", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
                },
                new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable } } } }),
            new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Environment.SetEnvironmentVariable(_secretVariable, null);
    }

    [Fact]
    public async Task ManagementPort_EndpointDefaultsHttp2_StillAnswersHttp11Probes()
    {
        // Kestrel:EndpointDefaults:Protocols=Http2 made the management port HTTP/2-only as well: a Kubernetes httpGet
        // probe or a Prometheus scrape (HTTP/1.1) got 400 "An HTTP/1.x request was sent to an HTTP/2 only endpoint".
        using var response = await _edge.Management.GetAsync("/readyz");

        Assert.Equal((HttpStatusCode.OK, new Version(1, 1)), (response.StatusCode, response.Version));
    }

    [Fact]
    public async Task Http2_TransferEncodingHeader_Returns400AndForwardsNothing()
    {
        // Malformed in HTTP/2 (RFC 9113 §8.2.2); Kestrel accepted it and the request was forwarded.
        var status = await SendAsync(
            [(":method", "POST"), (":scheme", "http"), (":path", "/open/h2-te"), (":authority", "edge.example"), ("transfer-encoding", "chunked")],
            "hello"u8.ToArray());

        Assert.Equal(400, status);
        Assert.DoesNotContain(_backend.Received, e => e.RequestMessage?.Path == "/open/h2-te");
    }

    [Fact]
    public async Task Http2_AuthorityAndHostDiffer_AuthorityIsTheHostTheBackendIsTold()
    {
        // Kestrel replaces Host with :authority, so routing, AllowedHosts and X-Forwarded-Host all read the same name.
        var status = await SendAsync(
            [(":method", "GET"), (":scheme", "http"), (":path", "/open/h2-authority"), (":authority", "edge.example"), ("host", "other.example")], null);

        Assert.Equal(200, status);
        var forwarded = _backend.Received.Single(e => e.RequestMessage?.Path == "/open/h2-authority").RequestMessage!;
        Assert.Equal("edge.example", forwarded.Headers!["X-Forwarded-Host"].Single());
        Assert.DoesNotContain(forwarded.Headers!.Values.SelectMany(v => v), value => value.Contains("other.example", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("caf\u00e9")]
    [InlineData("a\u0001b")]
    public async Task Http2_HeaderValueWithNonAsciiByteOrControlCharacter_Returns400AndForwardsNothing(string value)
    {
        // HPACK carries raw bytes; Kestrel hands them to the edge as Latin-1 on HTTP/2 as on HTTP/1.1.
        var path = "/open/h2-value-" + (int)value[^2];
        var status = await SendAsync(
            [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("x-note", value)], null);

        Assert.Equal(400, status);
        Assert.DoesNotContain(_backend.Received, e => e.RequestMessage?.Path == path);
    }

    [Theory]
    [InlineData(WebhookPath + "/more", "hello, more than five")]
    [InlineData(WebhookPath + "/less", "hi")]
    [InlineData("/open/h2-more", "hello, more than five")]
    [InlineData("/open/h2-less", "hi")]
    public async Task Http2_DataDisagreesWithContentLength_StreamResetAndAuditedAsStreamResetNotClientAborted(string path, string body)
    {
        // Kestrel resets the stream (RST_STREAM PROTOCOL_ERROR) and aborts the request; the record said 499
        // client_aborted, as if the client had gone away.
        var outcome = await ExchangeAsync(
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("content-length", "5"), ("x-hub-signature-256", UnverifiedSignature)],
            Encoding.ASCII.GetBytes(body));

        var audit = await _edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == path);

        Assert.Equal(new H2Outcome(0, ProtocolError, null), outcome);
        Assert.Equal((400, (string?)"body_invalid:stream_reset", (long?)0), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
    }

    [Theory]
    [InlineData(WebhookPath + "/client-reset")]
    [InlineData("/open/h2-client-reset")]
    public async Task Http2_ClientResetsStreamMidBody_AuditedAsClientAborted(string path)
    {
        // The stream-reset check reads the body once more after an abort: a client that cancels its own stream must
        // still be recorded at once as the client's abort, not held by that read or taken for Kestrel's refusal.
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        var request = PrefaceAndHeaders(
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("content-length", "100"), ("x-hub-signature-256", UnverifiedSignature)],
            endStream: false);
        request.AddRange(Frame(0x0, 0, 1, Encoding.ASCII.GetBytes("0123456789")));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        await Task.Delay(200, timeout.Token);
        await stream.WriteAsync(Frame(0x3, 0, 1, [0, 0, 0, 0x8]), timeout.Token);

        var audit = await _edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == path);

        Assert.Equal(499, audit.GetProperty("status").GetInt32());
        Assert.EndsWith("client_aborted", Reason(audit));
    }

    private static string? Reason(JsonElement audit) => audit.TryGetProperty("reason", out var reason) ? reason.GetString() : null;

    private static long? BytesOut(JsonElement audit) => audit.TryGetProperty("bytesOut", out var bytes) ? bytes.GetInt64() : null;

    /// <summary>Sends one request on stream 1 and returns its <c>:status</c> (0 when the stream was reset or the connection closed).</summary>
    private async Task<int> SendAsync(IReadOnlyList<(string Name, string Value)> headers, byte[]? body) =>
        (await ExchangeAsync(headers, body)).Status;

    /// <summary>Sends one request on stream 1, its body (if any) as one DATA frame that ends the stream, and returns how the stream ended.</summary>
    private async Task<H2Outcome> ExchangeAsync(IReadOnlyList<(string Name, string Value)> headers, byte[]? body)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();

        var request = PrefaceAndHeaders(headers, endStream: body is null);
        if (body is not null)
        {
            request.AddRange(Frame(0x0, 0x1, 1, body));
        }

        await stream.WriteAsync(request.ToArray(), timeout.Token);
        return await ReadOutcomeAsync(stream, timeout.Token);
    }

    /// <summary>The connection preface, an empty SETTINGS frame and stream 1's HEADERS frame.</summary>
    private static List<byte> PrefaceAndHeaders(IReadOnlyList<(string Name, string Value)> headers, bool endStream)
    {
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            // HPACK literal field without indexing, new name, no Huffman coding (RFC 7541 §6.2.2).
            block.Add(0x00);
            block.Add((byte)name.Length);
            block.AddRange(Encoding.ASCII.GetBytes(name));
            // Latin-1: one byte per char, so a test can send any byte in a value.
            block.Add((byte)value.Length);
            block.AddRange(Encoding.Latin1.GetBytes(value));
        }

        var request = new List<byte>(Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        request.AddRange(Frame(0x4, 0, 0, []));
        request.AddRange(Frame(0x1, (byte)(0x4 | (endStream ? 0x1 : 0)), 1, [.. block]));
        return request;
    }

    private static async Task<H2Outcome> ReadOutcomeAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        while (true)
        {
            try
            {
                await stream.ReadExactlyAsync(header, cancellationToken);
            }
            catch (EndOfStreamException)
            {
                return new H2Outcome(0, null, null);
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var type = header[3];
            var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
            var payload = new byte[length];
            await stream.ReadExactlyAsync(payload, cancellationToken);
            if (streamId == 1 && type == 0x3)
            {
                return new H2Outcome(0, BinaryPrimitives.ReadInt32BigEndian(payload), null);
            }

            if (type == 0x7)
            {
                return new H2Outcome(0, null, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
            }

            if (streamId == 1 && type == 0x1)
            {
                // Kestrel sends :status as an indexed field of the HPACK static table (RFC 7541 Appendix A) for these.
                return new H2Outcome(
                    payload[0] switch
                    {
                        0x88 => 200,
                        0x8C => 400,
                        0x8D => 404,
                        _ => throw new InvalidOperationException($"unexpected first header field 0x{payload[0]:x2}"),
                    },
                    null,
                    null);
            }
        }
    }

    /// <summary>How stream 1 ended: its <c>:status</c> (0 when none came), or the error code of its RST_STREAM or of a GOAWAY.</summary>
    private sealed record H2Outcome(int Status, int? Reset, int? GoAway);

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }
}
