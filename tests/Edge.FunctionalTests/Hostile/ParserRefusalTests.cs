using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Edge.Testing;
using Microsoft.AspNetCore.Hosting;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Requests Kestrel's parser refuses before the edge's middleware runs, sent byte for byte to a real Kestrel edge: each
/// gets the same problem+json every other refusal gets (a stable code, the request id in the header and the body), the
/// connection closed, nothing forwarded, and an audit record with no route that says what the client got.
/// </summary>
public sealed class ParserRefusalTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    public static TheoryData<string, string, int, string> Refusals() => new()
    {
        { "NUL in a header value", "GET /open/kp-nul HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400, "header_invalid:syntax" },
        { "CR in a header value", "GET /open/kp-cr HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, "header_invalid:syntax" },
        { "space before the colon", "GET /open/kp-space HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n", 400, "header_invalid:syntax" },
        { "obs-fold", "GET /open/kp-fold HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400, "header_invalid:syntax" },
        { "%00 in the path", "GET /open/kp-%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request_line_invalid:target" },
        { "not a request line", "HELLO\r\n\r\n", 400, "request_line_invalid:syntax" },
        { "no Host", "GET /open/kp-nohost HTTP/1.1\r\n\r\n", 400, "host_invalid:host" },
        { "two Hosts", "GET /open/kp-twohosts HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, "host_invalid:host" },
        { "absolute-form authority other than Host", "GET http://other.example/open/kp-absolute HTTP/1.1\r\nHost: x\r\n\r\n", 400, "host_invalid:host" },
        { "repeated Content-Length", "POST /open/kp-cl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "request_framing_invalid:content_length" },
        { "Content-Length over 20 digits", "POST /open/kp-cl-long HTTP/1.1\r\nHost: x\r\nContent-Length: 000000000000000000000005\r\n\r\nhello", 400, "request_framing_invalid:content_length" },
        { "Content-Length with a sign", "POST /open/kp-cl-sign HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400, "request_framing_invalid:content_length" },
        { "unknown final coding", "POST /open/kp-te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, "request_framing_invalid:transfer_coding" },
        { "HTTP/1.0 body without a length", "POST /open/kp-http10 HTTP/1.0\r\nHost: x\r\n\r\nhello", 400, "request_framing_invalid:length_required" },
        { "request line over the limit", $"GET /open/kp-{new string('a', 9000)} HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long:limit" },
        { "header block over the limit", $"GET /open/kp-big HTTP/1.1\r\nHost: x\r\nX-A: {new string('a', 33000)}\r\n\r\n", 431, "headers_too_large:size" },
        { "unknown HTTP version", "GET /open/kp-version HTTP/1.2\r\nHost: x\r\n\r\n", 400, "http_version_unsupported:version" },
        { "HTTP/2.0 on an HTTP/1.x request line", "GET /open/kp-version2 HTTP/2.0\r\nHost: x\r\n\r\n", 400, "http_version_unsupported:version" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task AnyPath_RequestKestrelRefuses_ProblemJsonWithRequestIdClosedAndAudited(string name, string request, int status, string reason)
    {
        var calls = fixture.BackendCalls("/open/kp-");

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, Encoding.Latin1.GetBytes(request));

        Assert.True(response.Status == status, $"{name}: got {response.Status}");
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Equal(reason.Split(':')[0], response.ProblemCode());
        Assert.Equal("close", response.Header("Connection"));
        var requestId = response.Header("X-Request-Id") ?? "(no X-Request-Id)";
        using (var problem = JsonDocument.Parse(response.Body))
        {
            Assert.Equal(requestId, problem.RootElement.GetProperty("requestId").GetString());
            Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        }

        Assert.Equal(calls, fixture.BackendCalls("/open/kp-"));
        var audit = await fixture.AuditDataAsync(requestId);
        Assert.Equal(status, audit.GetProperty("status").GetInt32());
        Assert.Equal(("deny", "Edge", reason), (audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        Assert.False(audit.TryGetProperty("route", out _), name);
        Assert.Equal(Encoding.UTF8.GetByteCount(response.Body), audit.GetProperty("bytesOut").GetInt64());
        Assert.Equal("127.0.0.1", audit.GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task Http2PriorKnowledge_OnTheHttp1Listener_KestrelsGoAwayAndARecordWithoutAnAnswer()
    {
        // h2c with prior knowledge: Kestrel answers the preface's "PRI * HTTP/2.0" line with an HTTP/2 GOAWAY
        // (HTTP_1_1_REQUIRED), not with its 505. The record said 505 with the problem body's bytes, never sent.
        byte[] goAway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13];
        var serverErrorsBefore = await RequestsAsync("5xx");
        var clientErrorsBefore = await RequestsAsync("4xx");
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", fixture.Edge.ProxyPort);
        var stream = client.GetStream();
        await stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        using var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.CopyToAsync(received, timeout.Token);

        Assert.Equal(goAway, received.ToArray());
        var audit = await fixture.AnyAuditDataWhereAsync(
            d => d.TryGetProperty("reason", out var reason) && reason.GetString() == "http_version_unsupported:http2_prior_knowledge",
            "the h2c prior-knowledge record");
        // A client error, as nginx logs the same bytes: counted as a 505 it was a 5xx any client could add at will, and
        // edge_requests_total's 5xx alert fired on an edge that had served everything it was asked.
        Assert.Equal((400, "deny", "Edge"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString()));
        Assert.Equal(0, audit.TryGetProperty("bytesOut", out var bytesOut) ? bytesOut.GetInt64() : 0);
        // The exporter may answer a scrape from its cache for a moment: read until the count moved.
        var clientErrors = clientErrorsBefore;
        for (var i = 0; i < 100 && clientErrors == clientErrorsBefore; i++)
        {
            await Task.Delay(100);
            clientErrors = await RequestsAsync("4xx");
        }

        Assert.True(clientErrors > clientErrorsBefore, "the preface is counted as a client error");
        Assert.Equal(serverErrorsBefore, await RequestsAsync("5xx"));
    }

    [Fact]
    public async Task UnknownHttpVersion_CountedAsAClientErrorWithoutARoute_NotAsA5xx()
    {
        // Kestrel's 505 for "HTTP/1.2" was answered, recorded and counted as a 5xx on route "": any client raised the
        // edge's 5xx rate (and the EdgeBackendErrors alert) at will with a request line no backend ever saw.
        var serverErrorsBefore = await RequestsAsync("5xx");
        var clientErrorsBefore = await RequestsAsync("4xx");

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /open/kp-version-metric HTTP/1.2\r\nHost: x\r\n\r\n");

        Assert.Equal((400, "http_version_unsupported"), (response.Status, response.ProblemCode()));
        var clientErrors = clientErrorsBefore;
        for (var i = 0; i < 100 && clientErrors == clientErrorsBefore; i++)
        {
            await Task.Delay(100);
            clientErrors = await RequestsAsync("4xx");
        }

        Assert.True(clientErrors > clientErrorsBefore, "the unknown version is counted as a client error");
        Assert.Equal(serverErrorsBefore, await RequestsAsync("5xx"));
    }

    /// <summary>The sum of <c>edge_requests_total</c> of requests without a route in <paramref name="statusClass"/>.</summary>
    private async Task<double> RequestsAsync(string statusClass)
    {
        var metrics = await fixture.Edge.Management.GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(line => line.StartsWith("edge_requests_total{", StringComparison.Ordinal)
                && line.Contains($"status_class=\"{statusClass}\"", StringComparison.Ordinal)
                && (line.Contains("route=\"\"", StringComparison.Ordinal) || !line.Contains("route=", StringComparison.Ordinal)))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task ManagementPort_RequestKestrelRefuses_SameProblemJsonAndRecord()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ManagementPort, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\0b\r\n\r\n");

        Assert.Equal((400, "header_invalid"), (response.Status, response.ProblemCode()));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id") ?? "(no X-Request-Id)");
        Assert.Equal(("/healthz", "header_invalid:syntax"), (audit.GetProperty("path").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task HeadRequestKestrelRefuses_LengthButNoBodyAndRecordedWithNoBytesOut()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "HEAD /open/kp-head HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("", response.Body);
        Assert.True(int.Parse(response.Header("Content-Length") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 0);
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id") ?? "(no X-Request-Id)");
        Assert.Equal(("HEAD", "/open/kp-head", 0L), (audit.GetProperty("method").GetString(), audit.GetProperty("path").GetString(), audit.GetProperty("bytesOut").GetInt64()));
    }

    [Fact]
    public async Task RefusalAfterAnAnsweredRequestOnTheSameConnection_BothAnsweredAsProblemJson()
    {
        var responses = await RawHttp.SendPipelinedAsync(fixture.Edge.ProxyPort,
            "GET /kp-unrouted HTTP/1.1\r\nHost: x\r\n\r\nGET /open/kp-second HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n");

        Assert.Equal(2, responses.Count);
        Assert.Equal((404, "not_found"), (responses[0].Status, responses[0].ProblemCode()));
        Assert.Equal((400, "header_invalid"), (responses[1].Status, responses[1].ProblemCode()));
        Assert.NotEqual(responses[0].Header("X-Request-Id"), responses[1].Header("X-Request-Id"));
    }

    [Fact]
    public async Task KestrelTerminatesTls_RefusalKeepsKestrelsAnswerInsideTheTlsStreamAndIsAudited()
    {
        // Kestrel adds its TLS after the endpoint defaults, so the edge's connection writer sits outside the encryption:
        // it must leave that answer alone (a plaintext body written there would break the TLS stream).
        using var backend = Backend.Start();
        var directory = Directory.CreateTempSubdirectory("edge-tls-").FullName;
        var pfx = Path.Combine(directory, "edge.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "test"));
        }

        var port = FreePort.Next();
        var managementPort = FreePort.Next();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            new Dictionary<string, string?>
            {
                // With Kestrel:Endpoints, Kestrel listens on those only: the management listener is one of them.
                ["Edge:ManagementUrls"] = $"http://127.0.0.1:{managementPort}",
                ["Kestrel:Endpoints:Management:Url"] = $"http://127.0.0.1:{managementPort}",
                ["Kestrel:Endpoints:Tls:Url"] = $"https://127.0.0.1:{port}",
                ["Kestrel:Endpoints:Tls:Certificate:Path"] = pfx,
                ["Kestrel:Endpoints:Tls:Certificate:Password"] = "test",
            });
        var path = $"/open/tls-{Guid.NewGuid():N}";

        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        await using var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync("localhost");
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"));
        using var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await tls.CopyToAsync(received, timeout.Token);
        var answer = Encoding.ASCII.GetString(received.ToArray());

        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Length: 0\r\n", answer, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", answer, StringComparison.Ordinal);
        var audit = await edge.LocalAuditDataWhereAsync(record => record.TryGetProperty("path", out var p) && p.GetString() == path);
        Assert.Equal((400, "header_invalid:syntax", 0L), (audit.GetProperty("status").GetInt32(), audit.GetProperty("reason").GetString(), audit.GetProperty("bytesOut").GetInt64()));
    }

    [Fact]
    public async Task HeadersSentTooSlowly_Answers408RequestTimeoutWithRequestId()
    {
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(
            ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["open"] = ProxyJson.Route("/open/{**rest}") }),
            configure: builder => builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1)));

        var response = await RawHttp.SendAsync(edge.ProxyPort, "GET /open/slow HTTP/1.1\r\nHost: x\r\nX-A: "u8.ToArray());

        Assert.Equal((408, "request_timeout"), (response.Status, response.ProblemCode()));
        Assert.Matches("^[0-9a-f]{32}$", response.Header("X-Request-Id") ?? "");
        Assert.Empty(backend.Received);
    }
}
