using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Tenancy;

public sealed class TenantStepTests : IAsyncLifetime
{
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(_backend.Url, new Dictionary<string, object>
        {
            ["header"] = ProxyJson.Route("/h/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "true" }),
            ["header-optional"] = ProxyJson.Route("/ho/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "false" }),
            ["route-value"] = ProxyJson.Route("/t/{tenant}/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Path", ["RouteValue"] = "tenant" }),
            ["segment"] = ProxyJson.Route("/s/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Path", ["Segment"] = "1" }),
            ["host"] = ProxyJson.Route("/host/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Host" }),
            ["static"] = ProxyJson.Route("/st/{**rest}", new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }),
        }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
    }

    [Theory]
    [InlineData("/h/x", "X-Tenant-ID", "acme", "acme")]
    [InlineData("/t/globex/orders", null, null, "globex")]
    [InlineData("/s/initech/orders", null, null, "initech")]
    [InlineData("/st/x", null, null, "acme")]
    [InlineData("/h/x", "X-Tenant-ID", "A.b_c-9", "A.b_c-9")]
    public async Task Tenant_ValidFromSource_ForwardedInEdgeHeader(string path, string? header, string? value, string expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (header is not null)
        {
            request.Headers.Add(header, value);
        }

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task Tenant_FromHostFirstLabel_ForwardedInEdgeHeader()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/host/x");
        request.Headers.Host = "umbrella.api.example.com";

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("umbrella", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Theory]
    [InlineData("UMBRELLA.api.example.com")]
    [InlineData("Umbrella.API.example.com")]
    [InlineData("uMbReLlA.api.example.com:8443")]
    public async Task Tenant_FromHostInAnyCase_ForwardedAsLowerCaseTenant(string host)
    {
        // Forwarded as UMBRELLA, Umbrella, ... before: one DNS name was as many tenants as case spellings, each with its
        // own rate-limit bucket ({tenant} keys multiplied a tenant's quota) and its own tenant in the audit trail.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/host/x");
        request.Headers.Host = host;

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("umbrella", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("192.168.7.20:8443")]
    [InlineData("[::ffff:10.0.0.1]:8443")]
    public async Task Tenant_HostIsIPAddress_Returns400TenantMissing(string host)
    {
        // An address has no sub-domain: the request was forwarded as tenant "10" (its first octet), with that tenant's
        // rate-limit bucket and audit name.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/host/x");
        request.Headers.Host = host;

        using var response = await _edge.Client.SendAsync(request);

        await AssertProblemAsync(response, "tenant_missing");
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Tenant_MissingWhenRequired_Returns400TenantMissing()
    {
        using var response = await _edge.Client.GetAsync("/h/x");

        await AssertProblemAsync(response, "tenant_missing");
    }

    [Fact]
    public async Task Tenant_MissingWhenOptional_ForwardedWithoutTenantHeader()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ho/x");
        request.Headers.Add("X-Edge-Tenant", "spoofed");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Assert.Single(_backend.Received).RequestMessage!.Headers!.ContainsKey("X-Edge-Tenant"));
    }

    [Theory]
    [InlineData("acme:prod")]
    [InlineData("{acme}")]
    [InlineData("ac me")]
    [InlineData("tenant/1")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789")]
    // Two copies as a proxy in front folds them into one line (RFC 9110 §5.3): the same answer as the two lines get.
    [InlineData("acme, evil")]
    [InlineData("acme,evil")]
    public async Task Tenant_InvalidCharactersOrLength_Returns400TenantInvalid(string tenant)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/h/x");
        request.Headers.TryAddWithoutValidation("X-Tenant-ID", tenant);

        using var response = await _edge.Client.SendAsync(request);

        await AssertProblemAsync(response, "tenant_invalid");
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("...")]
    public async Task Tenant_DotsOnly_Returns400TenantInvalid(string tenant)
    {
        // Accepted before: the backend got X-Edge-Tenant: .. and a backend keeping tenants in /data/{tenant}/ walked up.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/h/x");
        request.Headers.TryAddWithoutValidation("X-Tenant-ID", tenant);

        using var response = await _edge.Client.SendAsync(request);

        await AssertProblemAsync(response, "tenant_invalid");
    }

    [Fact]
    public async Task Tenant_SegmentPercentEncodedTwice_NotDecodedAgain_Returns400TenantInvalid()
    {
        // Request.Path is decoded once by Kestrel; the step decoded it again, so the edge's tenant (acme: its rate-limit
        // bucket, its audit, a credential bound to acme) was not the segment the backend sees (%61cme).
        using var response = await _edge.Client.GetAsync("/s/%2561cme/orders");

        await AssertProblemAsync(response, "tenant_invalid");
    }

    [Theory]
    [InlineData("/s//globex/orders")]
    [InlineData("/s//")]
    public async Task Tenant_EmptySegmentUpToTenantSegment_Returns400TenantInvalid(string path)
    {
        // Empty segments were skipped: segment 1 of /s//globex/orders was globex for the edge (its rate-limit bucket, its
        // audit, a credential bound to globex) while a backend that does not merge slashes reads an empty segment 1.
        using var response = await _edge.Client.GetAsync(path);

        await AssertProblemAsync(response, "tenant_invalid");
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Tenant_EmptySegmentAfterTenantSegment_ForwardedInEdgeHeader()
    {
        using var response = await _edge.Client.GetAsync("/s/initech//orders");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("initech", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task Tenant_InvalidInPath_Returns400TenantInvalid()
    {
        using var response = await _edge.Client.GetAsync("/t/ac%3Ame/orders");

        await AssertProblemAsync(response, "tenant_invalid");
    }

    [Fact]
    public async Task Tenant_HeaderSentTwice_Returns400TenantInvalid()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/h/x");
        request.Headers.TryAddWithoutValidation("X-Tenant-ID", ["acme", "globex"]);

        using var response = await _edge.Client.SendAsync(request);

        await AssertProblemAsync(response, "tenant_invalid");
    }

    [Theory]
    [InlineData("/h/x", "X_Tenant_ID")]
    [InlineData("/h/x", "x-tenant_id")]
    [InlineData("/ho/x", "X_TENANT_ID")]
    public async Task Tenant_HeaderAlsoSentWithUnderscoreSpelling_Returns400TenantInvalidAndNothingForwarded(string path, string alias)
    {
        // Forwarded before: the edge decided acme (or no tenant on the optional route) while a PHP, WSGI or Rack backend
        // reads X_Tenant_ID as HTTP_X_TENANT_ID, the same variable as X-Tenant-ID, and could take globex.
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (path == "/h/x")
        {
            request.Headers.Add("X-Tenant-ID", "acme");
        }

        request.Headers.TryAddWithoutValidation(alias, "globex");

        using var response = await _edge.Client.SendAsync(request);

        await AssertProblemAsync(response, "tenant_invalid");
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Tenant_ClientSentForwardHeader_ReplacedByExtractedTenant()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/h/x");
        request.Headers.Add("X-Tenant-ID", "acme");
        request.Headers.Add("X-Edge-Tenant", "globex");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["acme"], Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].ToArray());
    }

    private async Task AssertProblemAsync(HttpResponseMessage response, string code)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
        Assert.Empty(_backend.Received);
    }
}
