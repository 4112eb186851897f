using Edge.Configuration.RateLimiting;
using Edge.Proxy.Pipeline;
using Edge.Proxy.ThreatProtection;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.ThreatProtection;

public sealed class ThreatKeyRendererTests
{
    [Theory]
    [InlineData("acme")]
    [InlineData("Acme")]
    [InlineData("ACME")]
    public void Render_TenantInAnyCase_OneBanKey(string tenant)
    {
        var http = new DefaultHttpContext();
        var request = new EdgeRequestFeature { RequestId = "r", RouteId = "orders", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = "203.0.113.7" };
        http.Features.Set(request);
        http.Features.Set(new EdgeTenantFeature(tenant, "Header"));
        var template = RateLimitKeyTemplate.TryParse("{tenant}:{ip}", out var error) ?? throw new InvalidOperationException(error);

        // Before, a tenant banned as acme:203.0.113.7 came back as Acme and was served.
        Assert.Equal("acme:203.0.113.7", ThreatKeyRenderer.Render(template, http, request));
    }

    [Theory]
    [InlineData("acme:203.0.113.7", true)]
    [InlineData("Acme:203.0.113.7", false)] // no request renders it: a manual ban stored so matched no one
    public void CanRender_TenantKey_OnlyInLowerCase(string key, bool renderable)
    {
        var template = RateLimitKeyTemplate.TryParse("{tenant}:{ip}", out var error) ?? throw new InvalidOperationException(error);

        Assert.Equal(renderable, ThreatKeyRenderer.CanRender(template, key));
    }
}
