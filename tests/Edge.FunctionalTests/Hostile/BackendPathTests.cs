using Edge.Testing;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Behind a catch-all public route, <c>/tenant/{**rest}</c> needs a tenant. Tomcat drops <c>;</c> path parameters before
/// routing, so <c>/tenant;x/orders</c>, which the edge routes to the catch-all, is Tomcat's <c>/tenant/orders</c>; IIS
/// reads <c>/tenant\orders</c>, and a backend that decodes <c>%2F</c> reads <c>/tenant%2Forders</c>, the same way; nginx
/// merges <c>//tenant/orders</c> and IIS drops the dot of <c>/tenant./orders</c>. Spring's <c>trimTokens</c> and
/// <c>strip()</c>-based routers read <c>/%20tenant/orders</c> (or a no-break or ideographic space) as <c>/tenant/orders</c>,
/// and a backend decoding the whole target before splitting off the query (Apache <c>mod_rewrite</c>, hand-written
/// routers) ends the path at a decoded <c>%3F</c> or <c>%23</c>. Windows' best-fit conversion (IIS, PHP and CGI on
/// Windows) and NFKC-normalising backends read a fullwidth <c>ｔ</c> as <c>t</c> and <c>／</c> as <c>/</c>.
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
    [InlineData("/%20tenant/orders-l")]
    [InlineData("/tenant%C2%A0/orders-m")]
    [InlineData("/%E3%80%80tenant/orders-n")]
    [InlineData("/tenant%3F/orders-o")]
    [InlineData("/tenant%3Fx=1")]
    [InlineData("/tenant%23/orders-p")]
    [InlineData("/%EF%BD%94enant/orders-q")]
    [InlineData("/tenant%EF%BC%8Forders-r")]
    // The dotless and dotted i: Python's re.IGNORECASE and Java's equalsIgnoreCase match them to i, as they match the
    // Kelvin sign and the long s to k and s; ASP.NET Core's router does not.
    [InlineData("/adm%C4%B1n/orders-s")]
    [InlineData("/ADM%C4%B0N/orders-t")]
    [InlineData("/%E2%84%AAeys/orders-u")]
    [InlineData("/%C5%BFecrets/orders-v")]
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
    [InlineData("/tenant/what%3F")]
    // A route whose own path holds a character read another way (a Turkish dotless i) still takes its own paths.
    [InlineData("/%C4%B1l%C4%B1k/orders-w")]
    public async Task BackendReadingIsThisRoutesPath_Forwarded(string path)
    {
        var response = await SendAsync(path, "X-Tenant-ID: acme\r\n");

        Assert.Equal(200, response.Status);
        // Compared unescaped: the forwarded URL may write an escape another way (%C4%B1 as the character itself).
        Assert.Equal(1, fixture.Backend.Received.Count(e => e.RequestMessage?.Url is { } url
            && Uri.UnescapeDataString(url).EndsWith(Uri.UnescapeDataString(path), StringComparison.Ordinal)));
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
                ["admin"] = ProxyJson.Route("/admin/{**rest}", tenant),
                ["keys"] = ProxyJson.Route("/keys/{**rest}", tenant),
                ["secrets"] = ProxyJson.Route("/secrets/{**rest}", tenant),
                ["turkish"] = ProxyJson.Route("/\u0131l\u0131k/{**rest}", tenant),
            }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            Backend.Dispose();
        }
    }
}
