using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Edge.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Request trailers through the edge to a real h2c Kestrel backend, the one kind of backend that could receive them (an
/// HTTP/1.1 backend has WireMock's view in <see cref="RequestTrailersTests"/>). The backend records the headers and the
/// trailers it got: a client's identity header repeated as a trailer (HTTP/2 trailing HEADERS, or HTTP/1.1 chunked
/// trailers) must not reach it, nor a second value of the tenant header the edge checked.
/// </summary>
public sealed class RequestTrailersHttp2Tests : IAsyncLifetime
{
    private static readonly (string Name, string Value)[] ForgedTrailers =
    [
        ("x-edge-principal", "root"), ("x-edge-tenant", "other"), ("x-tenant-id", "other"), ("x-forwarded-for", "10.9.9.9"),
        ("x-forwarded-host", "evil.example"), ("x-request-id", "forged-id"), ("x-api-key", "forged-key"),
    ];

    private readonly ConcurrentQueue<(string Path, string Headers, string Trailers, string Body)> _received = new();
    private WebApplication _backend = null!;
    private string _backendUrl = "";
    private EdgeHost? _edge;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(FreePort.Next(), l => l.Protocols = HttpProtocols.Http2));
        _backend = builder.Build();
        _backend.Run(async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            var trailers = context.Features.Get<IHttpRequestTrailersFeature>() is { Available: true } feature
                ? string.Join("\n", feature.Trailers.Select(t => $"{t.Key}: {t.Value}"))
                : "";
            _received.Enqueue((context.Request.Path, string.Join("\n", context.Request.Headers.Select(h => $"{h.Key}: {h.Value}")), trailers, body));
            await context.Response.WriteAsync(context.Request.Protocol, context.RequestAborted);
        });
        await _backend.StartAsync();
        _backendUrl = _backend.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/";
    }

    public async Task DisposeAsync()
    {
        if (_edge is not null)
        {
            await _edge.DisposeAsync();
        }

        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Http2Client_IdentityHeadersAsTrailingHeaders_NotForwardedToTheHttp2Backend()
    {
        var edge = await StartEdgeAsync("Http2");
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var stream = await RawHttp2.ConnectAsync(client, edge.ProxyPort, false, timeout.Token);
        var request = RawHttp2.PrefaceAndHeaders(
            [(":method", "POST"), (":scheme", "http"), (":path", "/tenant/h2-trailers"), (":authority", "edge.example"), ("x-tenant-id", "acme"), ("te", "trailers")],
            endStream: false);
        request.AddRange(RawHttp2.Frame(RawHttp2.Data, 0, 1, "hello"u8.ToArray()));
        request.AddRange(RawHttp2.Frame(0x1, 0x4 | RawHttp2.EndStream, 1, RawHttp2.HeaderBlock(ForgedTrailers)));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        var outcome = await RawHttp2.ReadOutcomeAsync(stream, timeout.Token);

        Assert.True(outcome.Status == 200, $"got {outcome.Status} {outcome.Body}");
        Assert.Equal("HTTP/2", outcome.Body);
        AssertNothingForgedReached(Assert.Single(_received));
    }

    [Fact]
    public async Task Http11Client_IdentityHeadersAsChunkedTrailers_NotForwardedToTheHttp2Backend()
    {
        var edge = await StartEdgeAsync("Http1");
        var trailers = string.Concat(ForgedTrailers.Select(t => $"{t.Name}: {t.Value}\r\n"));

        var response = await RawHttp.SendAsync(
            edge.ProxyPort,
            "POST /tenant/h1-trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Tenant-ID: acme\r\nTransfer-Encoding: chunked\r\nTrailer: X-Edge-Tenant\r\n\r\n"
            + $"5\r\nhello\r\n0\r\n{trailers}\r\n");

        Assert.True(response.Status == 200, $"got {response.Status} {response.Body}");
        // The answer comes chunked (RawHttp keeps the framing); the backend names the protocol it was called with.
        Assert.Contains("HTTP/2", response.Body, StringComparison.Ordinal);
        AssertNothingForgedReached(Assert.Single(_received));
    }

    [Theory]
    [InlineData(":path", "/tenant/other")]
    [InlineData("X-Upper", "1")]
    [InlineData("x-nul", "a\0b")]
    [InlineData("connection", "close")]
    public async Task Http2Client_TrailingHeadersKestrelRefuses_GoAwayNothingAnsweredAndTheRecordSaysTheRefusal(string name, string value)
    {
        // Kestrel ends the whole connection (GOAWAY PROTOCOL_ERROR, RFC 9113 §8.1, §8.2): no HTTP answer can go out. The
        // record said 499 client_aborted: the client did not go away, Kestrel refused what it sent.
        var edge = await StartEdgeAsync("Http2");
        var path = "/tenant/h2-bad-trailer";
        var outcome = await SendWithTrailersAsync(edge, path, [(name, value)]);
        var audit = await edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == path);

        Assert.Equal((0, RawHttp2.ProtocolError), (outcome.Status, outcome.GoAway));
        Assert.Empty(_received);
        Assert.Equal((400, "body_invalid:connection_closed"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("reason").GetString()));
        Assert.True(AuditData.BytesOut(audit) is null or 0, $"bytesOut {AuditData.BytesOut(audit)}");
    }

    [Fact]
    public async Task Http2Client_TrailerValueWithCrLf_AcceptedByKestrelAndNeverForwarded()
    {
        // Kestrel refuses a CR or LF in an HTTP/2 header value but not in a trailer's; the forwarder drops trailers.
        var edge = await StartEdgeAsync("Http2");
        var outcome = await SendWithTrailersAsync(edge, "/tenant/h2-crlf-trailer", [("x-crlf", "a\r\nx-injected: 1")]);

        Assert.Equal(200, outcome.Status);
        var received = Assert.Single(_received);
        Assert.Equal(("hello", ""), (received.Body, received.Trailers));
        Assert.DoesNotContain("injected", received.Headers, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<H2Outcome> SendWithTrailersAsync(EdgeHost edge, string path, IEnumerable<(string Name, string Value)> trailers)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await using var stream = await RawHttp2.ConnectAsync(client, edge.ProxyPort, false, timeout.Token);
        var request = RawHttp2.PrefaceAndHeaders(
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "edge.example"), ("x-tenant-id", "acme")], endStream: false);
        request.AddRange(RawHttp2.Frame(RawHttp2.Data, 0, 1, "hello"u8.ToArray()));
        request.AddRange(RawHttp2.Frame(0x1, 0x4 | RawHttp2.EndStream, 1, RawHttp2.HeaderBlock(trailers)));
        await stream.WriteAsync(request.ToArray(), timeout.Token);
        return await RawHttp2.ReadOutcomeAsync(stream, timeout.Token);
    }

    private static void AssertNothingForgedReached((string Path, string Headers, string Trailers, string Body) received)
    {
        Assert.Equal("hello", received.Body);
        Assert.Equal("", received.Trailers);
        Assert.Contains("X-Tenant-ID: acme", received.Headers, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Edge-Tenant: acme", received.Headers, StringComparison.OrdinalIgnoreCase);
        foreach (var forged in new[] { "other", "root", "10.9.9.9", "evil.example", "forged" })
        {
            Assert.DoesNotContain(forged, received.Headers, StringComparison.Ordinal);
        }
    }

    private async Task<EdgeHost> StartEdgeAsync(string protocols)
    {
        var json = JsonNode.Parse(ProxyJson.Create(
            _backendUrl,
            new Dictionary<string, object>
            {
                ["tenant"] = ProxyJson.Route("/tenant/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" }),
            }))!;
        json["ReverseProxy"]!["Clusters"]!["backend"]!["HttpRequest"] = new JsonObject { ["Version"] = "2.0", ["VersionPolicy"] = "RequestVersionExact" };
        _edge = await EdgeHost.StartAsync(json.ToJsonString(), new Dictionary<string, string?> { ["Kestrel:EndpointDefaults:Protocols"] = protocols });
        return _edge;
    }
}
