namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// CONNECT cannot be forwarded and TRACE reflects credentials, so both are refused with 405 before any step, audited as
/// deny. Any other method token (FOO, PROPFIND) is forwarded like GET: routes narrow methods with Match.Methods.
/// </summary>
public sealed class UnforwardableMethodTests(HostileEdge fixture) : IClassFixture<HostileEdge>
{
    [Theory]
    [InlineData("CONNECT", "/open/connect")]
    [InlineData("TRACE", "/open/trace")]
    [InlineData("trace", "/open/trace-lower")]
    public async Task RefusedMethod_OnRoute_Returns405WithAllowAndAuditsDeny(string method, string path)
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(405, response.Status);
        Assert.Equal("method_not_allowed", response.ProblemCode());
        Assert.Equal("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", response.Header("Allow"));
        Assert.Equal(0, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(405, audit.GetProperty("status").GetInt32());
        Assert.Equal("deny", audit.GetProperty("decision").GetString());
        Assert.Equal("Edge", audit.GetProperty("step").GetString());
        Assert.Equal("method_not_allowed", audit.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("/open/orders-7?_method=DELETE")]
    [InlineData("/open/orders-8?x=1&%5Fmethod=PUT")]
    public async Task Post_MethodOverrideParameter_Returns400AndAuditsDeny(string target)
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        Assert.Equal((400, "method_override"), (response.Status, response.ProblemCode()));
        Assert.Equal(0, fixture.BackendCalls(target[..target.IndexOf('?')]));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal((400, "deny", "method_override"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Post_MethodParameterNamingPost_Forwarded()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "POST /open/orders-9?_method=POST&payment_method=card HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.BackendCalls("/open/orders-9"));
    }

    [Fact]
    public async Task Connect_AuthorityForm_NeverReachesBackendNorAnswers2xx()
    {
        var calls = fixture.Backend.Received.Count;

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"CONNECT 127.0.0.1:{fixture.Edge.ManagementPort} HTTP/1.1\r\nHost: 127.0.0.1:{fixture.Edge.ManagementPort}\r\nConnection: close\r\n\r\n");

        Assert.InRange(response.Status, 400, 499);
        Assert.Equal(calls, fixture.Backend.Received.Count);
    }

    [Fact]
    public async Task Trace_RouteWithMethodList_AllowListsOnlyTheRoutesForwardableMethods()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "TRACE /get-only/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(405, response.Status);
        // A GET route takes HEAD too (HeadMethodTests).
        Assert.Equal("GET, HEAD", response.Header("Allow"));
        Assert.Equal(0, fixture.BackendCalls("/get-only/"));
    }

    [Fact]
    public async Task Trace_RouteWithEdgeAllowTrace_Forwarded()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "TRACE /trace-ok/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.BackendCalls("/trace-ok/x"));
        Assert.Equal("TRACE", fixture.Backend.Received.Last(e => e.RequestMessage?.Path == "/trace-ok/x").RequestMessage!.Method);
    }

    [Theory]
    [InlineData("FOO")]
    [InlineData("PROPFIND")]
    public async Task CustomMethod_OnRoute_ForwardedAndAuditedAsAllow(string method)
    {
        var path = "/open/custom-" + method.ToLowerInvariant();

        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.BackendCalls(path));
        var audit = await fixture.AuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal(200, audit.GetProperty("status").GetInt32());
        Assert.Equal("allow", audit.GetProperty("decision").GetString());
        Assert.Equal(method, audit.GetProperty("method").GetString());
    }
}
