using System.Text;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/1.1 chunked request trailers sent byte for byte to a real Kestrel edge in front of WireMock. Trailers arrive after
/// the steps decided on the headers; Kestrel keeps them apart from the headers (IHttpRequestTrailersFeature) and the
/// forwarder (HttpClient has no request-trailer API) never sends them, so a header repeated as a trailer cannot give the
/// backend a value the edge did not check. Trailers Kestrel refuses get a clear answer and a matching record.
/// </summary>
public sealed class RequestTrailersTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    private const string IdentityTrailers =
        "X-Edge-Principal: root\r\nX-Edge-Tenant: other\r\nX-Tenant-ID: other\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: evil.example\r\n"
        + "X-Request-Id: forged-id\r\nX-Api-Key: forged-key\r\n";

    [Fact]
    public async Task WebhookRoute_SignatureAndIdentityRepeatedAsTrailers_BackendGetsOnlyTheCheckedHeader()
    {
        // The body is buffered for the signature check and forwarded with a Content-Length: the trailers go nowhere.
        var body = "{\"a\":1}"u8.ToArray();
        var signature = HostileEdge.GitHubSignature(body);
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + $"X-Hub-Signature-256: {signature}\r\nX-GitHub-Delivery: trailer-hook-1\r\nTransfer-Encoding: chunked\r\nTrailer: X-Hub-Signature-256\r\n\r\n"
            + $"{body.Length:x}\r\n{Encoding.ASCII.GetString(body)}\r\n0\r\nX-Hub-Signature-256: sha256=forged\r\n{IdentityTrailers}\r\n");

        Assert.True(response.Status == 200, $"got {response.Status} {response.Body}");
        Assert.Equal(calls + 1, fixture.BackendCalls(HostileEdge.WebhookPath));
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == HostileEdge.WebhookPath).RequestMessage!;
        Assert.Equal(signature, forwarded.Headers!["X-Hub-Signature-256"].Single());
        AssertNoTrailerReached(forwarded.Headers!);
    }

    [Fact]
    public async Task KeysRoute_ApiKeyAndIdentityRepeatedAsTrailers_BackendGetsOnlyTheCheckedHeader()
    {
        const string path = "/keys/trailers";
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Api-Key: {HostileEdge.ViewerKey}\r\nTransfer-Encoding: chunked\r\n\r\n"
            + $"5\r\nhello\r\n0\r\n{IdentityTrailers}\r\n");

        // The viewer key lacks orders.write: refused on the headers alone, whatever the trailers say.
        Assert.Equal(403, response.Status);
        Assert.Equal(calls, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(403, audit.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task TenantRoute_TenantRepeatedAsTrailer_BackendGetsTheHeaderTenant()
    {
        const string path = "/tenant/trailers";
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Tenant-ID: acme\r\nTransfer-Encoding: chunked\r\n\r\n"
            + $"5\r\nhello\r\n0\r\n{IdentityTrailers}\r\n");

        Assert.True(response.Status == 200, $"got {response.Status} {response.Body}");
        Assert.Equal(calls + 1, fixture.BackendCalls(path));
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal("acme", forwarded.Headers!["X-Tenant-ID"].Single());
        Assert.Equal("hello", forwarded.Body);
        Assert.Equal("acme", forwarded.Headers!["X-Edge-Tenant"].Single());
        AssertNoTrailerReached(forwarded.Headers!);
    }

    public static TheoryData<string, string, int> RefusedTrailers() => new()
    {
        { "trailers over MaxRequestHeadersTotalSize", "X-Big: " + new string('a', 40 * 1024) + "\r\n", 431 },
        { "more trailers than MaxRequestHeaderCount", string.Concat(Enumerable.Range(0, 150).Select(i => $"X-T{i}: v\r\n")), 431 },
        { "trailer line without a colon", "X-No-Colon\r\n", 400 },
        { "trailer with a NUL", "X-Nul: a\0b\r\n", 400 },
        { "folded trailer", "X-Fold: a\r\n b\r\n", 400 },
        { "trailer name with a space", "X Bad: a\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(RefusedTrailers))]
    public async Task StreamingRoute_TrailersKestrelRefuses_ClearAnswerAuditedTheSame(string name, string trailers, int status)
    {
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST /open/bad-trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n{trailers}\r\n");

        Assert.True((response.Status, response.ProblemCode()) == (status, "body_invalid"), $"{name}: got {response.Status} {response.Body}");
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((status, "body_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("reason").GetString()));
    }

    public static TheoryData<string, string> RefusedTrailersOnly()
    {
        var data = new TheoryData<string, string>();
        foreach (var row in RefusedTrailers())
        {
            data.Add((string)row[0], (string)row[1]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RefusedTrailersOnly))]
    public async Task WebhookRoute_TrailersKestrelRefuses_Returns400BodyInvalidNothingForwardedAuditedTheSame(string name, string trailers)
    {
        // The edge reads the body itself here: a trailer Kestrel refuses is broken framing of that body, whatever status
        // Kestrel gives it (431 for too large or too many), and must never become the 502 of a backend never called.
        var calls = fixture.BackendCalls(HostileEdge.WebhookPath);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {HostileEdge.WebhookPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{HostileEdge.UnverifiedSignatureHeader}"
            + $"Transfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n{trailers}\r\n");

        Assert.True((response.Status, response.ProblemCode()) == (400, "body_invalid"), $"{name}: got {response.Status} {response.Body}");
        Assert.Equal(calls, fixture.BackendCalls(HostileEdge.WebhookPath));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "deny", "body_invalid:malformed_framing"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    public static TheoryData<string, string> PipelinedAfterRefusedTrailers()
    {
        var data = new TheoryData<string, string>();
        foreach (var path in new[] { HostileEdge.WebhookPath, "/open/bad-trailers-pipelined" })
        {
            foreach (var row in RefusedTrailers())
            {
                data.Add(path, (string)row[1]);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(PipelinedAfterRefusedTrailers))]
    public async Task AnyRoute_RefusedTrailerThenAPipelinedRequest_OnlyTheRefusalAndNothingSmuggled(string path, string trailers)
    {
        // After a trailer section Kestrel could not parse, the bytes that follow are not a request the edge may serve.
        const string after = "/open/after-refused-trailer";
        var calls = fixture.BackendCalls(after);

        var responses = await RawHttp.SendPipelinedAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{HostileEdge.UnverifiedSignatureHeader}Transfer-Encoding: chunked\r\n\r\n"
            + $"2\r\n{{}}\r\n0\r\n{trailers}\r\nGET {after} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        var refusal = responses[0];
        Assert.True(refusal.Status is 400 or 431 && refusal.ProblemCode() == "body_invalid", $"got {refusal.Status} {refusal.Body}");
        Assert.Single(responses);
        Assert.Equal(calls, fixture.BackendCalls(after));
    }

    private static void AssertNoTrailerReached(IDictionary<string, WireMock.Types.WireMockList<string>> headers)
    {
        Assert.DoesNotContain(headers.Keys, name => name.Equals("X-Edge-Principal", StringComparison.OrdinalIgnoreCase));
        var all = string.Join("\n", headers.SelectMany(h => h.Value.Select(v => $"{h.Key}: {v}")));
        foreach (var forged in new[] { "root", "other", "10.9.9.9", "evil.example", "forged" })
        {
            Assert.DoesNotContain(forged, all, StringComparison.Ordinal);
        }
    }
}
