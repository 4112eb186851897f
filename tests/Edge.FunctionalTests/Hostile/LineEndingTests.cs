namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A bare LF as a line end: a front proxy that keeps it inside a header value sees one header where a lenient Kestrel
/// sees two. The edge refuses it at the parser (400 problem+json, connection closed); nothing is forwarded.
/// </summary>
public sealed class LineEndingTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    public static TheoryData<string, string, string> BareLineFeeds() => new()
    {
        { "every line", "GET /open/lf-every HTTP/1.1\nHost: x\n\n", "request_line_invalid" },
        { "inside the headers", "GET /open/lf-inside HTTP/1.1\r\nHost: x\r\nX-A: 1\nX-Tenant-ID: other\r\n\r\n", "header_invalid" },
        { "hiding a framing header", "POST /open/lf-framing HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-A: 1\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "header_invalid" },
        { "after the request line", "GET /open/lf-request-line HTTP/1.1\nHost: x\r\n\r\n", "request_line_invalid" },
    };

    [Theory]
    [MemberData(nameof(BareLineFeeds))]
    public async Task AnyRoute_BareLineFeedLineEnd_Returns400ProblemJsonAndForwardsNothing(string name, string request, string code)
    {
        var calls = fixture.BackendCalls("/open/lf-");

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, request);

        Assert.True(response.Status == 400, $"{name}: got {response.Status}");
        Assert.Equal(code, response.ProblemCode());
        Assert.Equal("close", response.Header("Connection"));
        Assert.Equal(calls, fixture.BackendCalls("/open/lf-"));
    }

    [Fact]
    public async Task AnyRoute_CrLfLineEnds_Forwarded()
    {
        var calls = fixture.BackendCalls("/open/crlf");

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /open/crlf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(calls + 1, fixture.BackendCalls("/open/crlf"));
    }
}
