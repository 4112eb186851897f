using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// <c>admin.example</c> has its own route, which needs a tenant; every other host takes the catch-all. A trailing dot
/// names the same host in DNS, and nginx and Apache drop it before choosing a virtual host, but the edge's host matching
/// did not: <c>Host: admin.example.</c> took the catch-all, and the backend got <c>X-Forwarded-Host: admin.example.</c>
/// (and that <c>Host</c> with <c>RequestHeaderOriginalHost</c>), its admin site, without the admin route's steps.
/// </summary>
public sealed class HostRoutingTests(HostRoutingTests.HostRoutedEdge fixture) : IClassFixture<HostRoutingTests.HostRoutedEdge>
{
    [Theory]
    [InlineData("admin.example.")]
    [InlineData("ADMIN.example.")]
    [InlineData("admin.example.:8080")]
    [InlineData("admin.example..")]
    public async Task HostWithTrailingDot_RoutedAsTheHostItNames(string host)
    {
        var before = fixture.Backend.Received.Count;
        var response = await SendAsync(host);
        var audit = await fixture.Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "tenant_missing"), (response.Status, response.ProblemCode()));
        Assert.Equal(before, fixture.Backend.Received.Count);
        Assert.Equal(("admin", "deny", "tenant_missing"), (audit.GetProperty("route").GetString(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("admin.example.", "admin.example")]
    [InlineData("admin.example.:8080", "admin.example:8080")]
    public async Task HostWithTrailingDot_ForwardedWithoutIt(string host, string forwardedHost)
    {
        var response = await SendAsync(host, "X-Tenant-ID: acme\r\n");

        Assert.Equal(200, response.Status);
        var forwarded = fixture.Backend.Received.Last().RequestMessage!;
        Assert.Equal(forwardedHost, forwarded.Headers!["X-Forwarded-Host"].Single());
    }

    private Task<RawResponse> SendAsync(string host, string headers = "") =>
        RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET /settings HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n");

    public sealed class HostRoutedEdge : IAsyncLifetime
    {
        public Backend Backend { get; private set; } = null!;

        public EdgeHost Edge { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Backend = Backend.Start();
            var admin = ProxyJson.Route("/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "true" });
            ((Dictionary<string, object>)admin)["Match"] = new { Path = "/{**rest}", Hosts = new[] { "admin.example" } };
            var everything = ProxyJson.Route("/{**rest}");
            ((Dictionary<string, object>)everything)["Order"] = 100;
            Edge = await EdgeHost.StartAsync(ProxyJson.Create(Backend.Url, new Dictionary<string, object>
            {
                ["everything"] = everything,
                ["admin"] = admin,
            }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            Backend.Dispose();
        }
    }
}
