using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using static Edge.FunctionalTests.Hostile.AuditData;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/2 (h2c with prior knowledge, enabled here with <c>Kestrel:EndpointDefaults:Protocols=Http2</c>; the edge's default
/// cleartext endpoint speaks only HTTP/1.1) sent as raw frames, since HttpClient derives <c>:authority</c> from Host and
/// never sends connection-specific headers. Kestrel's <c>MinRequestBodyDataRate</c> grace is shortened to 2 s so a trickled
/// body is refused sooner; the webhook's body cap is 1000 bytes.
/// </summary>
public sealed class Http2FramingTests : IAsyncLifetime
{
    internal const string WebhookPath = "/hooks/github";

    /// <summary>A signature that does not verify: the webhook step reads the body before it can tell.</summary>
    internal const string UnverifiedSignature = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

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
                new { Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable }, MaxBodyBytes = 1000 } } }),
            new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = "Http2" },
            configure: builder => builder.WebHost.ConfigureKestrel(kestrel =>
                kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(2))));
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
    [InlineData("lead-space", " probe")]
    [InlineData("trail-space", "probe ")]
    [InlineData("lead-tab", "\tprobe")]
    [InlineData("trail-tab", "probe\t")]
    public async Task Http2_HeaderValueWithLeadingOrTrailingWhitespace_Returns400AndForwardsNothing(string name, string value)
    {
        // Malformed in HTTP/2 (RFC 9113 §8.2.1), where no parser strips it as HTTP/1.1's does: a step read " key" as
        // another value than the backend's parser ("key"), so a {header:…} rate-limit key counted one client in as many
        // buckets as it had ways to pad the value.
        var path = "/open/h2-ws-" + name;
        var outcome = await RawHttp2.ExchangeAsync(
            _edge.ProxyPort, [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("x-note", value)], null);

        var audit = await AuditAsync(path);

        Assert.Equal((400, "header_invalid"), (outcome.Status, outcome.ProblemCode()));
        Assert.Equal((400, (string?)"header_invalid:character"), (audit.GetProperty("status").GetInt32(), Reason(audit)));
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
        var outcome = await RawHttp2.ExchangeAsync(
            _edge.ProxyPort,
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("content-length", "5"), ("x-hub-signature-256", UnverifiedSignature)],
            Encoding.ASCII.GetBytes(body));

        var audit = await AuditAsync(path);

        Assert.Equal(new H2Outcome(0, RawHttp2.ProtocolError, null), outcome);
        Assert.Equal((400, (string?)"body_invalid:stream_reset", (long?)0), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
    }

    [Theory]
    [InlineData(WebhookPath + "/client-reset", false)]
    [InlineData("/open/h2-client-reset", false)]
    [InlineData(WebhookPath + "/client-close", true)]
    [InlineData("/open/h2-client-close", true)]
    public async Task Http2_ClientResetsStreamOrClosesConnectionMidBody_AuditedAsClientAborted(string path, bool closeConnection)
    {
        // The stream-reset check reads the body once more after an abort: a client that cancels its own stream must
        // still be recorded at once as the client's abort, not held by that read or taken for Kestrel's refusal. A
        // connection the client closes is aborted by Kestrel too, with a reason that is not the body timeout's.
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        var request = RawHttp2.PrefaceAndHeaders(Headers(path, contentLength: 100), endStream: false);
        request.AddRange(RawHttp2.Frame(RawHttp2.Data, 0, 1, Encoding.ASCII.GetBytes("0123456789")));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        // A close (RST, linger 0) before Kestrel read the request off the socket drops it unseen, and then there is
        // rightly no record: on a loaded host 200 ms was not always enough for that read.
        await RawHttp2.ReadUntilSettingsAckAsync(stream, timeout.Token);
        await Task.Delay(200, timeout.Token);
        if (closeConnection)
        {
            client.Client.LingerState = new LingerOption(true, 0);
            client.Close();
        }
        else
        {
            await stream.WriteAsync(RawHttp2.Frame(RawHttp2.RstStream, 0, 1, [0, 0, 0, RawHttp2.Cancel]), timeout.Token);
        }

        var audit = await AuditAsync(path);

        Assert.Equal(499, audit.GetProperty("status").GetInt32());
        Assert.EndsWith("client_aborted", Reason(audit));
    }

    [Theory]
    [InlineData(WebhookPath + "/slow")]
    [InlineData("/open/h2-slow")]
    public async Task Http2_BodyTrickledBelowKestrelsMinimumRate_AuditedAsBodyTimeoutNotClientAborted(string path)
    {
        // Kestrel ends the whole connection (GOAWAY INTERNAL_ERROR, no answer on the stream) and aborts the request; the
        // record said 499 client_aborted, though the client was still sending.
        var outcome = await RawHttp2.TrickleAsync(_edge.ProxyPort, Headers(path, contentLength: null), "0123456789"u8.ToArray(), TimeSpan.FromMilliseconds(500));

        var audit = await AuditAsync(path);

        Assert.Equal(0, outcome.Status);
        Assert.Equal((408, "body_timeout:connection_closed", 0L), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
    }

    [Theory]
    [InlineData(WebhookPath + "/open-stream")]
    [InlineData("/open/h2-open-stream")]
    public async Task Http2_WholeContentLengthSentWithoutEndStream_AuditedAsBodyTimeoutNotClientAborted(string path)
    {
        // Every declared byte came, but the stream was never ended: the body is never complete, and Kestrel ends the
        // connection once the body's rate falls under its minimum.
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        var request = RawHttp2.PrefaceAndHeaders(Headers(path, contentLength: 10), endStream: false);
        request.AddRange(RawHttp2.Frame(RawHttp2.Data, 0, 1, "0123456789"u8.ToArray()));
        await stream.WriteAsync(request.ToArray(), timeout.Token);

        var outcome = await RawHttp2.ReadOutcomeAsync(stream, timeout.Token);
        var audit = await AuditAsync(path);

        Assert.Equal(0, outcome.Status);
        Assert.Equal((408, "body_timeout:connection_closed", 0L), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
    }

    [Fact]
    public async Task Http2_BodyOverTheCapStreamedSlowly_Answers413AndAuditsTheSame()
    {
        // 300 bytes every 500 ms, above Kestrel's minimum rate, without a content-length: the webhook's 1000-byte cap is
        // passed while the stream is still open, so the answer goes out on it.
        var path = WebhookPath + "/over-cap";

        var outcome = await RawHttp2.TrickleAsync(_edge.ProxyPort, Headers(path, contentLength: null), new byte[300], TimeSpan.FromMilliseconds(500));
        var audit = await AuditAsync(path);

        Assert.Equal((413, "body_too_large"), (outcome.Status, outcome.ProblemCode()));
        Assert.Equal((413, "body_too_large:streamed"), (audit.GetProperty("status").GetInt32(), Reason(audit)));
        Assert.DoesNotContain(_backend.Received, e => e.RequestMessage?.Path == path);
    }

    private static IReadOnlyList<(string Name, string Value)> Headers(string path, long? contentLength) =>
    [
        (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "edge.example"),
        .. contentLength is { } length ? [("content-length", length.ToString(System.Globalization.CultureInfo.InvariantCulture))] : Array.Empty<(string, string)>(),
        ("x-hub-signature-256", UnverifiedSignature),
    ];

    private Task<JsonElement> AuditAsync(string path) =>
        _edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == path);

    /// <summary>Sends one request on stream 1 and returns its <c>:status</c> (0 when the stream was reset or the connection closed).</summary>
    private async Task<int> SendAsync(IReadOnlyList<(string Name, string Value)> headers, byte[]? body) =>
        (await RawHttp2.ExchangeAsync(_edge.ProxyPort, headers, body)).Status;
}
