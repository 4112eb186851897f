using System.Text.Json;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// HTTP/1.x framing sent byte for byte (HttpClient would normalise it) to a real Kestrel edge in front of WireMock: what
/// two parsers could read differently is refused with 400 <c>request_framing_invalid</c> and the connection closed,
/// before any step and without a byte forwarded; what Kestrel's parser refuses gets 400 problem+json and a close
/// (<see cref="ParserRefusalTests"/>); what is
/// accepted reaches the backend re-framed, so the backend never parses the client's framing.
/// </summary>
public sealed class RequestFramingTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    private const string Chunked = "5\r\nhello\r\n0\r\n\r\n";

    public static TheoryData<string, string, string> AmbiguousFraming() => new()
    {
        // Length before and after the coding: the CL.TE and TE.CL smuggling pair.
        { "/open/framing-cl-te", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        { "/open/framing-te-cl", "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n" + Chunked, "length_and_chunked" },
        { "/open/framing-cl-zero", "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        { "/open/framing-te-case", "Content-Length: 3\r\nTransfer-Encoding: Chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        // Kestrel hands a dropped Content-Length on under this name; a client's own copy cannot be told from it.
        { "/open/framing-x-cl", "Transfer-Encoding: chunked\r\nX-Content-Length: 5\r\n\r\n" + Chunked, "length_and_chunked" },
        // Step routes: the refusal comes before the tenant, authentication and signature steps, and before body buffering.
        { "/tenant/framing", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        { "/keys/framing", "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        { HostileEdge.WebhookPath, "Content-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "length_and_chunked" },
        // Codings Kestrel accepts because chunked comes last, which the forwarder would silently drop.
        { "/open/framing-identity-chunked", "Transfer-Encoding: identity, chunked\r\n\r\n" + Chunked, "transfer_coding" },
        { "/open/framing-gzip-chunked", "Transfer-Encoding: gzip, chunked\r\n\r\n" + Chunked, "transfer_coding" },
        { "/open/framing-chunked-twice", "Transfer-Encoding: chunked, chunked\r\n\r\n" + Chunked, "transfer_coding" },
        { "/open/framing-two-lines", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked, "transfer_coding" },
    };

    [Theory]
    [MemberData(nameof(AmbiguousFraming))]
    public async Task AnyRoute_AmbiguousFraming_Returns400RequestFramingInvalidClosesAndForwardsNothing(string path, string framing, string reason)
    {
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {path} HTTP/1.1\r\nHost: x\r\n{framing}");

        await AssertRefusedAndAuditedAsync(response, path, reason);
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task Http10_TransferEncoding_Returns400RequestFramingInvalidAndForwardsNothing()
    {
        // An HTTP/1.0 parser in front reads no body here, and the chunks as the next request (RFC 9112 §6.1: faulty framing).
        const string path = "/open/framing-http10";
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {path} HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{Chunked}");

        await AssertRefusedAndAuditedAsync(response, path, "http10_transfer_encoding");
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    [Fact]
    public async Task NoRoute_ContentLengthAndChunked_Returns400NotThe404AndAuditsIt()
    {
        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort, $"POST /no-route-framing HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n{Chunked}");

        var audit = await AssertRefusedAndAuditedAsync(response, "/no-route-framing", "length_and_chunked");
        Assert.False(audit.TryGetProperty("route", out var route) && route.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task OpenRoute_ContentLengthAndChunkedOnAKeptAliveConnection_SecondRequestIsNeverParsed()
    {
        // The classic CL.TE payload: a front proxy reading Content-Length forwards the smuggled GET as body; the edge
        // must neither forward the first request nor read the rest as a second one.
        const string path = "/open/framing-smuggle";
        var calls = fixture.BackendCalls(path);
        var smuggled = $"GET {path}/admin HTTP/1.1\r\nHost: x\r\n\r\n";
        var request = $"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {5 + smuggled.Length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}";

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request);

        await AssertRefusedAndAuditedAsync(response, path, "length_and_chunked");
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    [Theory]
    [InlineData("/tenant/expect", "Content-Length: 5\r\n", "tenant_missing")]
    [InlineData(HostileEdge.WebhookPath, "Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", RequestFramingCode)]
    public async Task DeniedRequest_Expect100Continue_DenialIsTheFirstAnswerAndNoBodyIsRead(string path, string framing, string code)
    {
        // The client waits for 100 before sending its body: a denial decided on the headers must come instead of it, and
        // an interim 100 followed by the refusal would have made it send the body for nothing.
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n{framing}\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal(code, response.ProblemCode());
        Assert.Equal(calls, fixture.BackendCalls(path));
    }

    public static TheoryData<string, string> ParserRefusals() => new()
    {
        { "unknown coding", "POST /open/parser-xchunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" + Chunked },
        { "chunked not last", "POST /open/parser-chunked-identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n" + Chunked },
        { "repeated Content-Length", "POST /open/parser-cl-twice HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" },
        { "listed Content-Length", "POST /open/parser-cl-list HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello" },
        { "negative Content-Length", "POST /open/parser-cl-negative HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nhello" },
        { "obs-fold", "GET /open/parser-fold HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n" },
        { "space before the colon", "POST /open/parser-space HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello" },
        { "HTTP/1.0 body without a length", "POST /open/parser-http10 HTTP/1.0\r\nHost: x\r\n\r\nhello" },
        { "absolute-form authority other than Host", "GET http://other.example/open/parser-absolute HTTP/1.1\r\nHost: x\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(ParserRefusals))]
    public async Task AnyRoute_FramingKestrelRefuses_Returns400ProblemJsonClosesAndForwardsNothing(string name, string request)
    {
        var calls = fixture.BackendCalls("/open/parser-");

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request);

        Assert.True(response.Status == 400, $"{name}: got {response.Status}");
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Equal("close", response.Header("Connection"));
        Assert.Equal(calls, fixture.BackendCalls("/open/parser-"));
    }

    [Fact]
    public async Task OpenRoute_ChunkExtensionsAndTrailers_BodyForwardedTrailersNot()
    {
        // Trailers arrive after the steps ran on the headers: a client's X-Edge-* or forwarding header in them must not
        // reach the backend (YARP does not forward HTTP/1.1 request trailers; this pins it).
        const string path = "/open/framing-trailers";
        var calls = fixture.BackendCalls(path);

        var response = await RawHttp.SendAsync(
            fixture.Edge.ProxyPort,
            $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nTrailer: X-Edge-Principal\r\n\r\n"
            + "5;name=value\r\nhello\r\n0\r\nX-Edge-Principal: root\r\nX-Edge-Tenant: other\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(calls + 1, fixture.BackendCalls(path));
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal("hello", forwarded.Body);
        Assert.DoesNotContain(forwarded.Headers!.Keys, name => name.StartsWith("X-Edge-", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("10.9.9.9", string.Join(",", forwarded.Headers!.TryGetValue("X-Forwarded-For", out var xff) ? xff.ToArray() : []));
    }

    [Theory]
    [InlineData("/open/framing-cl-spaces", "   5")]
    public async Task OpenRoute_ContentLengthKestrelAccepts_BackendGetsACanonicalLength(string path, string length)
    {
        // OWS is not part of the value; the forwarder writes its own Content-Length, so the backend never parses the
        // client's spelling. A signed "+5", which Kestrel's own parse took as 5, is refused (ParserRefusalTests).
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {length}\r\n\r\nhello");

        Assert.Equal(200, response.Status);
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == path).RequestMessage!;
        Assert.Equal("5", forwarded.Headers!["Content-Length"].Single());
        Assert.Equal("hello", forwarded.Body);
    }

    private async Task<JsonElement> AssertRefusedAndAuditedAsync(RawResponse response, string path, string reason)
    {
        Assert.True(response.Status == 400, $"{path}: got {response.Status} {response.Body}");
        Assert.Equal(RequestFramingCode, response.ProblemCode());
        Assert.Equal("close", response.Header("Connection"));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "deny", "Edge", $"{RequestFramingCode}:{reason}"), (audit.GetProperty("status").GetInt32(),
            audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        return audit;
    }

    private const string RequestFramingCode = "request_framing_invalid";
}
