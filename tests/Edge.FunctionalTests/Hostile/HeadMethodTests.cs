using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// <c>/admin/{**rest}</c> takes only <c>GET</c> and needs a tenant; every other request takes the catch-all. Backends run
/// their GET handler for a <c>HEAD</c> (RFC 9110 section 9.3.2; Flask, Django, Rails, Express, Spring MVC, Go), but
/// ASP.NET Core's matcher did not give a GET-only route the HEAD: <c>HEAD /admin/x</c> took the catch-all, and the
/// backend ran the admin handler without the admin route's steps.
/// </summary>
public sealed class HeadMethodTests(HeadMethodTests.GetOnlyEdge fixture) : IClassFixture<HeadMethodTests.GetOnlyEdge>
{
    [Theory]
    [InlineData("HEAD")]
    [InlineData("head")]
    public async Task Head_OnAGetOnlyRoute_RunsThatRoutesSteps(string method)
    {
        var before = fixture.Backend.Received.Count;
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, $"{method} /admin/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var audit = await fixture.Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal(400, response.Status);
        Assert.Equal(before, fixture.Backend.Received.Count);
        Assert.Equal(("admin", "deny", "tenant_missing"), (audit.GetProperty("route").GetString(), audit.GetProperty("decision").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Head_OnAGetOnlyRouteWithItsTenant_ForwardedAsHead()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "HEAD /admin/report HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: acme\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        var forwarded = fixture.Backend.Received.Last(e => e.RequestMessage?.Path == "/admin/report").RequestMessage!;
        Assert.Equal("HEAD", forwarded.Method);
        var audit = await fixture.Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);
        Assert.Equal("admin", audit.GetProperty("route").GetString());
    }

    [Fact]
    public async Task Head_WhereARouteListsHeadItself_ThatRouteTakesIt()
    {
        var response = await RawHttp.SendAsync(fixture.Edge.ProxyPort, "HEAD /probe/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        var audit = await fixture.Edge.LocalAuditDataAsync(response.Header("X-Request-Id")!);

        Assert.Equal(200, response.Status);
        Assert.Equal("probe-head", audit.GetProperty("route").GetString());
    }

    public sealed class GetOnlyEdge : IAsyncLifetime
    {
        public Backend Backend { get; private set; } = null!;

        public EdgeHost Edge { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Backend = Backend.Start();
            var tenant = new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "true" };
            var admin = ProxyJson.Route("/admin/{**rest}", tenant);
            ((Dictionary<string, object>)admin)["Match"] = new { Path = "/admin/{**rest}", Methods = new[] { "GET" } };
            var probeGet = ProxyJson.Route("/probe/{**rest}", tenant);
            ((Dictionary<string, object>)probeGet)["Match"] = new { Path = "/probe/{**rest}", Methods = new[] { "GET" } };
            var probeHead = ProxyJson.Route("/probe/{**rest}");
            ((Dictionary<string, object>)probeHead)["Match"] = new { Path = "/probe/{**rest}", Methods = new[] { "HEAD" } };
            var everything = ProxyJson.Route("/{**rest}");
            ((Dictionary<string, object>)everything)["Order"] = 100;
            Edge = await EdgeHost.StartAsync(ProxyJson.Create(Backend.Url, new Dictionary<string, object>
            {
                ["everything"] = everything,
                ["admin"] = admin,
                ["probe-get"] = probeGet,
                ["probe-head"] = probeHead,
            }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            Backend.Dispose();
        }
    }
}
