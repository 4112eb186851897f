using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// <c>AllowedHosts</c> on a real edge: a request naming another host never reaches the backend (where a legacy
/// application would build links from its <c>X-Forwarded-Host</c>), gets the edge's problem and is audited; the
/// management port answers any Host (probes send an IP). The test client is a trusted proxy: behind one the backend builds
/// links from the kept <c>X-Forwarded-Host</c> or <c>Forwarded</c>, so <c>AllowedHosts</c> applies to the hosts they name
/// too (many load balancers set only <c>X-Forwarded-For</c> and pass the client's copies on).
/// </summary>
public sealed class AllowedHostsTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object> { ["shop"] = ProxyJson.Route("/shop/{**rest}") }),
            new Dictionary<string, string?> { ["AllowedHosts"] = "shop.example;*.api.example", ["Edge:TrustedProxies"] = "127.0.0.1/32" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("shop.example.evil")]
    [InlineData("api.example")]
    [InlineData("127.0.0.1")]
    public async Task Request_HostNotAllowed_400ProblemAuditedAndNotForwarded(string host)
    {
        var response = await SendAsync(_edge.ProxyPort, "/shop/reset", host);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "host_not_allowed"), (response.Status, response.ProblemCode()));
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Empty(_backend.Received);
        Assert.Equal((400, "deny", "host_not_allowed"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("shop.example")]
    [InlineData("SHOP.example:8443")]
    [InlineData("eu.api.example")]
    public async Task Request_HostAllowed_ForwardedWithThatForwardedHost(string host)
    {
        var response = await SendAsync(_edge.ProxyPort, "/shop/reset", host);

        Assert.Equal(200, response.Status);
        var forwarded = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal(host, forwarded.Headers!["X-Forwarded-Host"].Single());
    }

    [Fact]
    public async Task ManagementPort_AnyHost_Answers()
    {
        var response = await SendAsync(_edge.ManagementPort, "/healthz", "10.1.2.3:9901");

        Assert.Equal(200, response.Status);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("shop.example, evil.example")]
    public async Task Request_TrustedProxyForwardedHostNotAllowed_400ProblemAuditedAndNotForwarded(string forwardedHost)
    {
        var response = await SendViaProxyAsync(forwardedHost);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "host_not_allowed"), (response.Status, response.ProblemCode()));
        Assert.Empty(_backend.Received);
        Assert.Equal((400, "deny", "host_not_allowed"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("eu.api.example")]
    [InlineData("SHOP.example:8443")]
    public async Task Request_TrustedProxyForwardedHostAllowed_ForwardedAsSent(string forwardedHost)
    {
        var response = await SendViaProxyAsync(forwardedHost);

        Assert.Equal(200, response.Status);
        var forwarded = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal(forwardedHost, forwarded.Headers!["X-Forwarded-Host"].Single());
    }

    [Theory]
    [InlineData("for=203.0.113.5;host=evil.example;proto=https")]
    [InlineData("for=192.0.2.1;host=shop.example, for=203.0.113.5;Host=\"evil.example:443\"")]
    public async Task Request_TrustedProxyForwardedHeaderHostNotAllowed_400ProblemAndNotForwarded(string forwarded)
    {
        // Spring's ForwardedHeaderFilter and other frameworks build links from RFC 7239's host= before X-Forwarded-Host.
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"GET /shop/reset HTTP/1.1\r\nHost: shop.example\r\nForwarded: {forwarded}\r\nConnection: close\r\n\r\n");

        Assert.Equal((400, "host_not_allowed"), (response.Status, response.ProblemCode()));
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Request_TrustedProxyForwardedHeaderHostAllowed_ForwardedAsSent()
    {
        const string forwarded = "for=203.0.113.5;host=\"eu.api.example\";proto=https";
        var response = await RawHttp.SendAsync(_edge.ProxyPort, $"GET /shop/reset HTTP/1.1\r\nHost: shop.example\r\nForwarded: {forwarded}\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(forwarded, Assert.Single(_backend.Received).RequestMessage!.Headers!["Forwarded"].Single());
    }

    private Task<RawResponse> SendViaProxyAsync(string forwardedHost) =>
        RawHttp.SendAsync(_edge.ProxyPort, $"GET /shop/reset HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Host: {forwardedHost}\r\nConnection: close\r\n\r\n");

    private static Task<RawResponse> SendAsync(int port, string path, string host) =>
        RawHttp.SendAsync(port, $"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
}
