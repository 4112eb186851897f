using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.Pipeline;

/// <summary>
/// Request targets the forwarder would have sent the backend changed, behind a catch-all route.
/// <c>OPTIONS *</c> asks about the server in general, not about a resource: it was forwarded as <c>OPTIONS /</c>, a
/// request for the backend's root the client never sent; like a request no route takes, it is answered 404
/// <c>not_found</c> and not forwarded. A '#' was forwarded changed: dropped from an absolute-form path, escaped as %23
/// everywhere else (the backend read <c>?a=1#f</c> as <c>a=1%23f</c>). No target form holds a fragment, so it is
/// refused with 400 <c>request_line_invalid</c> and not forwarded, as Envoy does.
/// </summary>
public sealed class RequestTargetFormTests : IAsyncLifetime
{
    private RawHttpBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = RawHttpBackend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object> { ["everything"] = ProxyJson.Route("/{**catch-all}") }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task OptionsAsterisk_CatchAllRoute_404NotForwarded()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(404, response.Status);
        Assert.Equal("not_found", response.ProblemCode());
        Assert.Empty(_backend.Received);
        var id = response.Header("X-Request-Id")!;
        var record = (await Configuration.ConcurrentReloadTests.AuditRecordsAsync(_edge, new HashSet<string> { id }))[id];
        Assert.Equal((404, "deny", "not_found:asterisk_form"),
            (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task OptionsRoot_CatchAllRoute_Forwarded()
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, "OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(("OPTIONS", "/"), Assert.Single(_backend.Received) is var r ? (r.Method, r.Target) : default);
    }

    [Theory]
    [InlineData("/orders/1#frag")]
    [InlineData("/orders/1?a=1#f")]
    [InlineData("/orders/1?a=1#")]
    [InlineData("http://x/orders/1#frag")]
    [InlineData("http://x/orders/1?a=1#f")]
    public async Task Send_TargetWithFragment_400NotForwardedAndAudited(string target)
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Equal("request_line_invalid", response.ProblemCode());
        Assert.Empty(_backend.Received);
        var id = response.Header("X-Request-Id")!;
        var record = (await Configuration.ConcurrentReloadTests.AuditRecordsAsync(_edge, new HashSet<string> { id }))[id];
        Assert.Equal((400, "deny", "request_line_invalid:fragment"),
            (record.GetProperty("status").GetInt32(), record.GetProperty("decision").GetString(), record.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("/orders/1%23frag", "/orders/1%23frag")]
    [InlineData("/orders/1?a=1%23f", "/orders/1?a=1%23f")]
    public async Task Send_EscapedHash_ForwardedUnchanged(string target, string forwarded)
    {
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(forwarded, Assert.Single(_backend.Received).Target);
    }
}
