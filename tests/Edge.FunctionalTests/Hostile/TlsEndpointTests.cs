using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using static Edge.FunctionalTests.Hostile.AuditData;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// The edge terminating TLS itself, set up as docs/configuration.md shows (<c>Kestrel:Endpoints</c> with a .pfx made by
/// the test, the management listener an endpoint of its own): HTTP/1.1 and HTTP/2 chosen by ALPN, what the backend is
/// told, and what the record says for served, denied, malformed and abandoned requests. Kestrel's body-rate grace,
/// header timeout and TLS handshake timeout are shortened so the slow clients are refused sooner.
/// </summary>
public sealed class TlsEndpointTests : IAsyncLifetime
{
    private const string WebhookPath = Http2FramingTests.WebhookPath;
    private const string Password = "tls-endpoint-test-password";
    private const string UnverifiedSignature = Http2FramingTests.UnverifiedSignature;

    private readonly string _secretVariable = "EDGE_TLS_GITHUB_" + Guid.NewGuid().ToString("N");
    private readonly string _certificateDirectory = Directory.CreateTempSubdirectory("edge-tls-").FullName;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_secretVariable, "tls-endpoint-github-secret");
        using var certificate = TestCertificate.Create();
        var pfx = certificate.WritePfx(_certificateDirectory, Password);
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            Config("/open/{**rest}"),
            configure: builder => builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(2));
                kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(2);
                kestrel.ConfigureHttpsDefaults(https => https.HandshakeTimeout = TimeSpan.FromSeconds(2));
            }),
            tls: new EdgeTls(pfx, Password));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Environment.SetEnvironmentVariable(_secretVariable, null);
        Directory.Delete(_certificateDirectory, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Https_EachAlpnProtocol_ForwardedWithProtoHttpsAndTheClientAddressAndAudited(int major)
    {
        var path = $"/open/alpn-{major}";
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = new Version(major, major == 1 ? 1 : 0), VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await _edge.Client.SendAsync(request);
        var audit = await _edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-ID").Single());

        Assert.Equal((HttpStatusCode.OK, request.Version), (response.StatusCode, response.Version));
        var forwarded = _backend.Received.Single(e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal("https", forwarded.Headers!["X-Forwarded-Proto"].Single());
        Assert.Equal("127.0.0.1", forwarded.Headers!["X-Forwarded-For"].Single());
        Assert.Equal((200, "allow", "127.0.0.1", "https"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), ClientIp(audit), Scheme(audit)));
    }

    [Theory]
    [InlineData("/tenant/none", HttpStatusCode.BadRequest, "tenant_missing")]
    [InlineData("/limited/twice", HttpStatusCode.TooManyRequests, "rate_limited")]
    public async Task Https_DeniedOverHttp2_ProblemJsonAndTheRecordSayTheSame(string path, HttpStatusCode status, string code)
    {
        if (code == "rate_limited")
        {
            using var first = await SendHttp2Async(path, tenant: "acme");
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using var response = await SendHttp2Async(path, tenant: code == "tenant_missing" ? null : "acme");
        var body = await response.Content.ReadAsStringAsync();
        var audit = await _edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-ID").Single());

        Assert.Equal((status, new Version(2, 0), "application/problem+json"), (response.StatusCode, response.Version, response.Content.Headers.ContentType?.MediaType));
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(((int)status, "deny", (long)Encoding.UTF8.GetByteCount(body), "https"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), BytesOut(audit), Scheme(audit)));
    }

    [Fact]
    public async Task Https_Http11HeaderKestrelRefuses_KestrelsAnswerAuditedAsSent()
    {
        // Kestrel's own empty 400: the edge's problem+json rewriting sits under the connection, outside Kestrel's TLS.
        var answer = await SendHttp11Async("GET /open/bad-header HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n");
        var audit = await AuditAsync("/open/bad-header");

        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        Assert.Equal((400, "header_invalid:syntax", 0L, "https"), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit), Scheme(audit)));
    }

    [Fact]
    public async Task Https_Http11HeadersNeverFinished_408AuditedAsRequestTimeout()
    {
        var answer = await SendHttp11Async("GET /open/never-finished HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n");
        var audit = await AuditAsync("/open/never-finished");

        Assert.StartsWith("HTTP/1.1 408 ", answer, StringComparison.Ordinal);
        Assert.Equal((408, "request_timeout:headers", 0L, "https"), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit), Scheme(audit)));
    }

    [Theory]
    [InlineData(WebhookPath + "/tls-slow", "deny")]
    [InlineData("/open/tls-h2-slow", "allow")]
    public async Task Https_Http2BodyTrickledBelowKestrelsMinimumRate_AuditedAsBodyTimeoutConnectionClosed(string path, string decision)
    {
        var outcome = await RawHttp2.TrickleAsync(_edge.ProxyPort, Headers("POST", path), "0123456789"u8.ToArray(), TimeSpan.FromMilliseconds(500), tls: true);
        var audit = await AuditAsync(path);

        Assert.Equal(0, outcome.Status);
        Assert.Equal((408, "body_timeout:connection_closed", 0L, decision, "https"), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit), audit.GetProperty("decision").GetString(), Scheme(audit)));
    }

    [Fact]
    public async Task Https_Http2TransferEncodingHeader_ProblemJsonAuditedAndNothingForwarded()
    {
        var path = "/open/tls-h2-te";

        var outcome = await RawHttp2.ExchangeAsync(_edge.ProxyPort, [.. Headers("POST", path), ("transfer-encoding", "chunked")], "hello"u8.ToArray(), tls: true);
        var audit = await AuditAsync(path);

        Assert.Equal((400, "request_framing_invalid"), (outcome.Status, outcome.ProblemCode()));
        Assert.Equal((400, "request_framing_invalid:http2_transfer_encoding", (long)Encoding.UTF8.GetByteCount(outcome.Body!)), (audit.GetProperty("status").GetInt32(), Reason(audit), BytesOut(audit)));
        Assert.DoesNotContain(_backend.Received, e => e.RequestMessage?.Path == path);
    }

    [Fact]
    public async Task Https_PlainHttpRequestOnTheTlsPort_ClosedUnansweredAndTheEdgeServesOn()
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync("GET /open/plain-on-tls HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), timeout.Token);

        var answered = await ReadToEndAsync(stream, timeout.Token);
        using var next = await _edge.Client.GetAsync("/open/after-plain");
        await _edge.LocalAuditDataAsync(next.Headers.GetValues("X-Request-ID").Single());

        Assert.DoesNotContain("HTTP/1.1", answered, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.DoesNotContain("plain-on-tls", await File.ReadAllTextAsync(Path.Combine(_edge.Directory, "audit-decisions.ndjson")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_ClientSilentBeforeTheHandshake_ClosedByTheHandshakeTimeoutAndTheEdgeServesOn()
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);

        var answered = await ReadToEndAsync(client.GetStream(), timeout.Token);
        using var next = await _edge.Client.GetAsync("/open/after-silent");

        Assert.Equal(("", HttpStatusCode.OK), (answered, next.StatusCode));
    }

    [Fact]
    public async Task Https_ProxyJsonEdited_NewRouteServedOverTls()
    {
        await _edge.WriteConfigAsync(Config("/open/{**rest}", "/added/{**rest}"));

        var served = false;
        for (var attempt = 0; attempt < 50 && !served; attempt++)
        {
            using var response = await _edge.Client.GetAsync("/added/x");
            served = response.StatusCode == HttpStatusCode.OK;
            if (!served)
            {
                await Task.Delay(100);
            }
        }

        Assert.True(served, "the added route was not served over TLS after the reload");
        using var status = JsonDocument.Parse(await _edge.Management.GetStringAsync("/edge/status"));
        Assert.StartsWith("2-", status.RootElement.GetProperty("revision").GetString());
    }

    private string Config(params string[] openPaths)
    {
        var routes = new Dictionary<string, object>
        {
            ["tenant"] = ProxyJson.Route("/tenant/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "true" }),
            ["limited"] = ProxyJson.Route(
                "/limited/{**rest}",
                new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                new Dictionary<string, string> { ["EdgeRateLimit"] = "one" }),
            ["github"] = ProxyJson.Route(WebhookPath + "/{**rest}", new Dictionary<string, string> { ["EdgeWebhook"] = "github" }),
        };
        for (var i = 0; i < openPaths.Length; i++)
        {
            routes["open" + i] = ProxyJson.Route(openPaths[i]);
        }

        return ProxyJson.Create(
            _backend.Url,
            routes,
            new
            {
                RateLimits = new Dictionary<string, object> { ["one"] = new { Limit = 1, Window = "01:00:00" } },
                Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "env:" + _secretVariable }, MaxBodyBytes = 1000 } },
            });
    }

    private async Task<HttpResponseMessage> SendHttp2Async(string path, string? tenant)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-ID", tenant);
        }

        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return await _edge.Client.SendAsync(request);
    }

    /// <summary>Writes <paramref name="request"/> on a TLS connection that chose HTTP/1.1 by ALPN and returns what came back before the edge closed it.</summary>
    private async Task<string> SendHttp11Async(string request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync("127.0.0.1", _edge.ProxyPort, timeout.Token);
        await using var stream = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, static (_, _, _, _) => true);
        await stream.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions { TargetHost = "localhost", ApplicationProtocols = [SslApplicationProtocol.Http11] }, timeout.Token);
        Assert.Equal(SslApplicationProtocol.Http11, stream.NegotiatedApplicationProtocol);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        return await ReadToEndAsync(stream, timeout.Token);
    }

    private static async Task<string> ReadToEndAsync(Stream stream, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // A reset after the answer: what came before it is what the client got.
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    private static IReadOnlyList<(string Name, string Value)> Headers(string method, string path) =>
        [(":method", method), (":scheme", "https"), (":path", path), (":authority", "localhost"), ("x-hub-signature-256", UnverifiedSignature)];

    private Task<JsonElement> AuditAsync(string path) =>
        _edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var p) && p.GetString() == path);
}
