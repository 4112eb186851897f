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

    [Theory]
    [InlineData("alice")]
    [InlineData("Alice")]
    [InlineData("ALICE")]
    public void Render_PrincipalInAnyCase_OneBanKey(string principal)
    {
        var http = new DefaultHttpContext();
        var request = new EdgeRequestFeature { RequestId = "r", RouteId = "orders", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = "203.0.113.7" };
        http.Features.Set(request);
        var identity = new Edge.Configuration.Authorization.EdgeIdentity
        {
            Principal = principal, Roles = [], Permissions = Edge.Configuration.Authorization.EdgePermissionSet.None, Method = "jwt", Policy = "p",
            User = new System.Security.Claims.ClaimsPrincipal(),
        };
        http.Features.Set<IEdgeIdentityFeature>(new Edge.Proxy.Authorization.AuthenticationFeature(identity.Method, identity));
        var template = RateLimitKeyTemplate.TryParse("{principal}", out var error) ?? throw new InvalidOperationException(error);

        // Before, a principal banned as alice came back as Alice (an API key's principal beside a JWT's subject) and was served.
        Assert.Equal("alice", ThreatKeyRenderer.Render(template, http, request));
    }

    [Theory]
    [InlineData("alice@x.example", true)]
    [InlineData("Alice@x.example", false)] // no request renders it: a manual ban stored so matched no one
    public void CanRender_PrincipalKey_OnlyInLowerCase(string key, bool renderable)
    {
        var template = RateLimitKeyTemplate.TryParse("{principal}", out var error) ?? throw new InvalidOperationException(error);

        Assert.Equal(renderable, ThreatKeyRenderer.CanRender(template, key));
    }
}
