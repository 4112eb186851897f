using Edge.FunctionalTests.Hostile;
using Edge.Testing;

namespace Edge.FunctionalTests.Tenancy;

/// <summary>
/// A Host tenant behind a trusted proxy: the proxy's <c>X-Forwarded-Host</c> is kept and forwarded, and a multi-tenant
/// backend reads the tenant from it, so it must name the same tenant as the <c>Host</c> the edge decided by.
/// </summary>
public sealed class TenantStepTrustedProxyTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(_backend.Url, new Dictionary<string, object>
            {
                ["host"] = ProxyJson.Route("/host/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Host" }),
            }),
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Theory]
    [InlineData("globex.api.example")]
    [InlineData("acme.api.example, globex.api.example")]
    [InlineData("localhost")]
    public async Task Tenant_HostAndTrustedForwardedHostDisagree_400TenantInvalidNotForwarded(string forwardedHost)
    {
        // The edge limited, audited and bound the credential by acme while the backend served the forwarded host's tenant.
        var response = await SendAsync(forwardedHost);
        var audit = await _edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "tenant_invalid"), (response.Status, response.ProblemCode()));
        Assert.Empty(_backend.Received);
        Assert.Equal((400, "deny", "tenant_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Tenant_HostAndTrustedForwardedHeaderHostDisagree_400TenantInvalidNotForwarded()
    {
        var response = await RawHttp.SendAsync(
            _edge.ProxyPort,
            "GET /host/x HTTP/1.1\r\nHost: acme.api.example\r\nForwarded: for=203.0.113.5;host=globex.api.example\r\nConnection: close\r\n\r\n");

        Assert.Equal((400, "tenant_invalid"), (response.Status, response.ProblemCode()));
        Assert.Empty(_backend.Received);
    }

    [Theory]
    [InlineData("acme.api.example")]
    [InlineData("ACME.public.example:8443")]
    public async Task Tenant_TrustedForwardedHostSameTenant_Forwarded(string forwardedHost)
    {
        var response = await SendAsync(forwardedHost);

        Assert.Equal(200, response.Status);
        var forwarded = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal("acme", forwarded.Headers!["X-Edge-Tenant"].Single());
        Assert.Equal(forwardedHost, forwarded.Headers!["X-Forwarded-Host"].Single());
    }

    private Task<RawResponse> SendAsync(string forwardedHost) =>
        RawHttp.SendAsync(_edge.ProxyPort, $"GET /host/x HTTP/1.1\r\nHost: acme.api.example\r\nX-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Host: {forwardedHost}\r\nConnection: close\r\n\r\n");
}
