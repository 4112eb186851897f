using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Request bodies that go wrong over HTTP/2 (h2c with prior knowledge), on a route that buffers the body (a webhook) and
/// on one that streams it to the backend: what the client gets and what the audit record says must agree. Kestrel's
/// <c>MinRequestBodyDataRate</c> grace is shortened to 2 s so a trickled body is refused sooner.
/// </summary>
public sealed class Http2BodyTests : IAsyncLifetime
{
    private const string WebhookPath = "/hooks/github";
    private const string UnverifiedSignature = "sha256=0000000000000000000000000000000000000000000000000000000000000000";

    private readonly string _secretVariable = "EDGE_H2_BODY_GITHUB_" + Guid.NewGuid().ToString("N");
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, "h2-body-github-secret");
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

    private static string? Reason(JsonElement audit) => audit.TryGetProperty("reason", out var reason) ? reason.GetString() : null;

    private static long? BytesOut(JsonElement audit) => audit.TryGetProperty("bytesOut", out var bytes) ? bytes.GetInt64() : null;
}
