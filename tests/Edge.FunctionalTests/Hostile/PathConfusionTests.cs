namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// A path the edge routes as one route must not reach the backend as another route's path: the <c>open</c> route has
/// no steps, <c>/keys/…</c> needs an API key, so <c>/open/..\keys\x</c> must not be forwarded, nor <c>/open/..;/keys/x</c>,
/// which Tomcat resolves to <c>/keys/x</c>, nor <c>/open/%c0%ae%c0%ae/keys</c>, which a decoder of overlong UTF-8 does.
/// </summary>
public sealed class PathConfusionTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    [Theory]
    [InlineData("/open/dots-a/..\\..\\keys\\x")]
    [InlineData("/open/dots-b/..%2F..%2Fkeys%2Fx")]
    [InlineData("/open/dots-c/%2e%2e%5C%2e%2e%5Ckeys")]
    [InlineData("/open/dots-d/..;/..;/keys/x")]
    [InlineData("/open/dots-e/..;jsessionid=1/..%3B/keys/x")]
    [InlineData("/open/dots-f/%c0%ae%c0%ae/%c0%ae%c0%ae/keys/x")]
    [InlineData("/open/dots-g/..%25c0%25af..%25c0%25afkeys")]
    [InlineData("/open/dots-h/..%EF%BC%8F..%EF%BC%8Fkeys")]
    [InlineData("/open/dots-i/%EF%BC%8E%EF%BC%8E/%E2%80%A5/keys")]
    public async Task DotSegmentBehindBackslashEncodedSlashPathParameterOrOverlongUtf8_Answers400PathInvalidAndAuditsIt(string path)
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "path_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(0, fixture.BackendCalls("/open/dots-"));
        Assert.Equal(400, audit.GetProperty("status").GetInt32());
        Assert.Equal("path_invalid", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("/open/ctl-a%09/x")]
    [InlineData("/open/ctl-b%0A")]
    [InlineData("/open/ctl-c%0D%0Ax")]
    [InlineData("/open/ctl-d%7F")]
    [InlineData("/open/ctl-e%1B")]
    [InlineData("/open/ctl-f%C2%85")]
    [InlineData("http://x/open/ctl-g%09/x")]
    public async Task ControlCharacter_Answers400PathInvalidAndForwardsNothing(string target)
    {
        // Kestrel decodes %09, %0A and the like into the path and YARP forwards them; behind a catch-all route a backend
        // trimming segments (Spring's trimTokens, strip()) reads /keys%09/x as /keys/x, and a regex router's '$' matches
        // before a final newline, so /keys%0A is its /keys. No name needs a control character.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "path_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(0, fixture.BackendCalls("/open/ctl-"));
        Assert.Equal((400, "deny", "Edge", "path_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("http://x/open/abs-a/..%2F..%2Fkeys/abs-a")]
    [InlineData("http://x/open/abs-b/.%2E%2F..%2Fkeys/abs-b")]
    [InlineData("http://x/open/abs-c/%2E%2E%2F%2E%2E%2Fkeys/abs-c")]
    public async Task AbsoluteFormTarget_DotSegmentBehindEncodedSlash_Answers400PathInvalidAndForwardsNothing(string target)
    {
        // Kestrel takes an absolute-form target's path from Uri.LocalPath: %2F decoded, the '..' it hid kept. The open route
        // matched /open/abs-a/../../keys/abs-a, and the forwarder's Uri sent the backend /keys/abs-a without the API key.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "path_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(0, fixture.BackendCalls("/keys/abs-"));
        Assert.Equal(0, fixture.BackendCalls("/open/abs-"));
        Assert.Equal((400, "deny", "path_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task AbsoluteFormTarget_Nul_Answers400PathInvalidAndForwardsNothing()
    {
        // Kestrel refuses %00 in an origin-form target but keeps it, decoded, in an absolute-form one, which was forwarded
        // as %00: behind a catch-all route, a backend ending the path at the NUL reads /admin%00/x as /admin.
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET http://x/open/abs-nul%00/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);

        // Before, the 400 was the backend's (WireMock's Kestrel refuses the %00 it was sent), recorded as allowed.
        Assert.Equal((400, "path_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(("deny", "Edge", "path_invalid"), (audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task AbsoluteFormTarget_PlainPath_ForwardedToItsRoute()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET http://x/open/absolute-plain/a%2Fb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.BackendCalls("/open/absolute-plain/"));
    }

    [Fact]
    public async Task EncodedSlashInsideAName_ForwardedUnchanged()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /open/names/group%2Fproject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.BackendCalls("/open/names/"));
    }

    [Fact]
    public async Task PathParameterOnAName_ForwardedUnchanged()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "GET /open/params/page;jsessionid=A1B2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal("/open/params/page;jsessionid=A1B2", Assert.Single(fixture.Backend.Received, e => e.RequestMessage?.Path?.StartsWith("/open/params/", StringComparison.Ordinal) == true).RequestMessage!.Path);
    }
}
