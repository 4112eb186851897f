using Edge.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// What a legacy backend's answer says about the backend itself does not reach the client: a redirect built from the
/// destination's address becomes origin-relative, and the headers naming its software are removed.
/// </summary>
public sealed class BackendAnswerTests(BackendAnswerTests.LegacyBackendEdge fixture) : IClassFixture<BackendAnswerTests.LegacyBackendEdge>
{
    [Fact]
    public async Task Redirect_LocationOnTheBackendsOwnAddress_MadeOriginRelative()
    {
        var response = await SendAsync("/legacy/redirect");

        Assert.Equal(302, response.Status);
        Assert.Equal("/login?next=%2Faccount#top", response.Header("Location"));
    }

    [Theory]
    [InlineData("/legacy/double-slash")]
    [InlineData("/legacy/backslash")]
    public async Task Redirect_BackendsOwnAddressWithAnEmptyFirstPathSegment_StaysOnTheEdgesOrigin(string path)
    {
        // http://10.0.3.7:8080//evil.example/phish is a path on the backend (a return path checked to start with '/' and put
        // after its own address). Cut to //evil.example/phish it was a network-path reference: a redirect to another site.
        var response = await SendAsync(path);

        Assert.Equal(302, response.Status);
        Assert.Equal("/.//evil.example/phish", response.Header("Location"));
        Assert.Equal(new Uri("http://shop.example//evil.example/phish"), new Uri(new Uri("http://shop.example/legacy/x"), response.Header("Location")));
    }

    [Fact]
    public async Task ContentLocationAndRefreshWithAnEmptyFirstPathSegment_StayOnTheEdgesOrigin()
    {
        var response = await SendAsync("/legacy/moved-double-slash");

        Assert.Equal(200, response.Status);
        Assert.Equal("/.//evil.example/docs", response.Header("Content-Location"));
        Assert.Equal("0; url=/.//evil.example/next", response.Header("Refresh"));
    }

    [Theory]
    [InlineData("/legacy/elsewhere", "https://sso.example/login")]
    [InlineData("/legacy/relative", "/already/relative")]
    public async Task Redirect_LocationElsewhereOrRelative_ForwardedUnchanged(string path, string location)
    {
        var response = await SendAsync(path);

        Assert.Equal(302, response.Status);
        Assert.Equal(location, response.Header("Location"));
    }

    [Fact]
    public async Task BackendSoftwareHeaders_Removed()
    {
        var response = await SendAsync("/legacy/redirect");

        Assert.Equal("Kestrel", response.Header("Server"));
        Assert.Null(response.Header("X-Powered-By"));
        Assert.Null(response.Header("X-AspNet-Version"));
        Assert.Null(response.Header("X-AspNetMvc-Version"));
        Assert.Equal("kept", response.Header("X-App-Note"));
    }

    [Fact]
    public async Task ContentLocationAndRefreshOnTheBackendsOwnAddress_MadeOriginRelative()
    {
        var response = await SendAsync("/legacy/moved");

        Assert.Equal(200, response.Status);
        Assert.Equal("/docs/1?v=2", response.Header("Content-Location"));
        Assert.Equal("0; url=/next?x=1", response.Header("Refresh"));
    }

    [Fact]
    public async Task SetCookie_DomainOfTheBackendsHost_DomainRemovedOtherCookiesKept()
    {
        var response = await SendAsync("/legacy/cookies");
        var cookies = response.Header("Set-Cookie")!;

        Assert.Equal(200, response.Status);
        Assert.Contains("sid=abc; Path=/; HttpOnly", cookies, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.BackendHost, cookies, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("pref=1; Domain=.shop.example; Path=/", cookies, StringComparison.Ordinal);
    }

    private Task<RawResponse> SendAsync(string path) =>
        RawHttp.SendAsync(fixture.Edge.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");

    public sealed class LegacyBackendEdge : IAsyncLifetime
    {
        private WireMockServer _backend = null!;

        public EdgeHost Edge { get; private set; } = null!;

        public string BackendHost { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            _backend = WireMockServer.Start();
            var url = _backend.Urls[0].TrimEnd('/');
            Redirect("/legacy/redirect", url + "/login?next=%2Faccount#top");
            Redirect("/legacy/elsewhere", "https://sso.example/login");
            Redirect("/legacy/relative", "/already/relative");
            Redirect("/legacy/double-slash", url + "//evil.example/phish");
            Redirect("/legacy/backslash", url + "/\\evil.example/phish");
            _backend.Given(Request.Create().WithPath("/legacy/moved-double-slash").UsingGet())
                .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Location", url + "//evil.example/docs").WithHeader("Refresh", "0; url=" + url + "//evil.example/next"));
            BackendHost = new Uri(url).Host;
            _backend.Given(Request.Create().WithPath("/legacy/moved").UsingGet())
                .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Location", url + "/docs/1?v=2").WithHeader("Refresh", "0; url=" + url + "/next?x=1"));
            _backend.Given(Request.Create().WithPath("/legacy/cookies").UsingGet())
                .RespondWith(Response.Create().WithStatusCode(200)
                    .WithHeader("Set-Cookie", $"sid=abc; Domain={BackendHost}; Path=/; HttpOnly", "pref=1; Domain=.shop.example; Path=/"));
            Edge = await EdgeHost.StartAsync(ProxyJson.Create(url + "/", new Dictionary<string, object> { ["legacy"] = ProxyJson.Route("/legacy/{**rest}") }));
        }

        public async Task DisposeAsync()
        {
            await Edge.DisposeAsync();
            _backend.Stop();
        }

        private void Redirect(string path, string location) =>
            _backend.Given(Request.Create().WithPath(path).UsingGet())
                .RespondWith(Response.Create().WithStatusCode(302).WithHeader("Location", location)
                    .WithHeader("Server", "Apache/2.2.3 (CentOS)").WithHeader("X-Powered-By", "PHP/5.3.3")
                    .WithHeader("X-AspNet-Version", "2.0.50727").WithHeader("X-AspNetMvc-Version", "3.0").WithHeader("X-App-Note", "kept"));
    }
}
