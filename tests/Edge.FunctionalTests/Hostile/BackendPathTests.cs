using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Behind a catch-all public route, <c>/tenant/{**rest}</c> needs a tenant. Tomcat drops <c>;</c> path parameters before
/// routing, so <c>/tenant;x/orders</c>, which the edge routes to the catch-all, is Tomcat's <c>/tenant/orders</c>; IIS
/// reads <c>/tenant\orders</c>, and a backend that decodes <c>%2F</c> reads <c>/tenant%2Forders</c>, the same way; nginx
/// merges <c>//tenant/orders</c> and IIS drops the dot of <c>/tenant./orders</c>.
/// </summary>
public sealed class BackendPathTests(BackendPathTests.CatchAllEdge fixture) : IClassFixture<BackendPathTests.CatchAllEdge>
{
    [Theory]
    [InlineData("/tenant;x/orders-a")]
    [InlineData("/tenant;jsessionid=1/orders-b")]
    [InlineData("/TENANT;/orders-c")]
    [InlineData("/tenant;x")]
    [InlineData("/tenant%2Forders-d")]
    [InlineData("/tenant\\orders-e")]
    [InlineData("/tenant%5corders-f")]
    [InlineData("//tenant/orders-g")]
    [InlineData("/tenant./orders-h")]
    [InlineData("/tenant%20/orders-j")]
    [InlineData("/tenant.")]
    public async Task BackendReadingHidesAnotherRoutesPath_Answers400PathInvalidAndNeverReachesTheBackend(string path)
    {
        var before = fixture.Backend.Received.Count;
        var response = await SendAsync(path);
        var audit = await fixture.Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal((400, "path_invalid"), (response.Status, response.ProblemCode()));
        Assert.Equal(before, fixture.Backend.Received.Count);
        Assert.Equal((400, "deny", "path_invalid"), (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("/app/page;jsessionid=A1B2")]
    [InlineData("/tenants;v=2/list")]
    [InlineData("/tenant/orders;jsessionid=A1B2")]
    [InlineData("/tenant/group%2Fproject")]
    [InlineData("/other/group%2Fproject")]
    [InlineData("/tenant//orders-k")]
    [InlineData("/files/v1.2./x")]
    public async Task BackendReadingIsThisRoutesPath_Forwarded(string path)
    {
        var response = await SendAsync(path, "X-Tenant-ID: acme\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(1, fixture.Backend.Received.Count(e => e.RequestMessage?.Url?.EndsWith(path, StringComparison.Ordinal) == true));
    }

    private Task<RawResponse> SendAsync(string path, string headers = "") =>
        RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");

    public sealed class CatchAllEdge : IAsyncLifetime
    {
        public Backend Backend { get; private set; } = null!;

        public EdgeHost Edge { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Backend = Backend.Start();
            var tenant = new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" };
            Edge = await EdgeHost.StartAsync(ProxyJson.Create(Backend.Url, new Dictionary<string, object>
            {
                ["everything"] = ProxyJson.Route("/{**rest}"),
                ["tenant"] = ProxyJson.Route("/tenant/{**rest}", tenant),
            }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            Backend.Dispose();
        }
    }
}
