using System.Net;
using System.Security.Claims;
using System.Text;
using Edge.Configuration.Authorization;
using Edge.Proxy.Authorization;
using Edge.Proxy.Pipeline;
using Edge.Proxy.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class RateLimitKeyTemplateTests
{
    [Fact]
    public void Resolve_TenantAndPrincipal_JoinsValues()
    {
        var http = Request(tenant: "acme", principal: "alice");

        Assert.Equal("acme:alice", Template("{tenant}:{principal}").Resolve(http));
    }

    [Fact]
    public void Resolve_TemplateWithoutTenant_PrefixesTenantSoTenantsNeverShare()
    {
        var httpA = Request(tenant: "acme", ip: IPAddress.Parse("10.0.0.1"));
        var httpB = Request(tenant: "globex", ip: IPAddress.Parse("10.0.0.1"));
        var template = Template("{ip}");

        Assert.Equal("acme:10.0.0.1", template.Resolve(httpA));
        Assert.Equal("globex:10.0.0.1", template.Resolve(httpB));
    }

    [Theory]
    [InlineData("{tenant}:{principal}")]
    [InlineData("{principal}")] // the tenant prefix
    public void Resolve_TenantInAnotherCase_SamePartition(string text)
    {
        var template = Template(text);

        // A header, path or claim tenant is taken as sent: "Acme" got a bucket of its own beside acme's.
        Assert.Equal(template.Resolve(Request(tenant: "acme", principal: "alice")), template.Resolve(Request(tenant: "ACME", principal: "alice")));
        Assert.Equal(template.Resolve(Request(tenant: "acme", principal: "alice")), template.Resolve(Request(tenant: "Acme", principal: "alice")));
        Assert.StartsWith("acme:", template.Resolve(Request(tenant: "AcMe", principal: "alice")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{tenant}:{principal}")]
    [InlineData("{principal}")]
    public void Resolve_PrincipalInAnotherCase_SamePartition(string text)
    {
        var template = Template(text);

        // An API key's principal "Alice" and a JWT's subject "alice" had a bucket each, while four-eyes (and most identity
        // providers) take them for one person: a caller that can authenticate in either spelling doubled its quota.
        Assert.Equal(template.Resolve(Request(tenant: "acme", principal: "alice")), template.Resolve(Request(tenant: "acme", principal: "Alice")));
        Assert.Equal(template.Resolve(Request(tenant: "acme", principal: "alice")), template.Resolve(Request(tenant: "acme", principal: "ALICE")));
        Assert.Equal("acme:alice@x.example", template.Resolve(Request(tenant: "Acme", principal: "Alice@X.example")));
        // A principal the encoder hashes (too long, or with other characters) is hashed in lower case too.
        Assert.Equal(template.Resolve(Request(tenant: "acme", principal: "CN=Alice, O=Example")), template.Resolve(Request(tenant: "acme", principal: "cn=alice, o=example")));
    }

    [Fact]
    public void Resolve_RepeatedKeyHeader_KeyedByAllItsValues()
    {
        // Outside the edge's step (a plain ASP.NET Core app using the policy) nothing refuses the request: the first copy
        // alone let a client pick its bucket.
        var first = Request(tenant: "acme");
        first.Request.Headers["X-Client"] = "c-1";
        var repeated = Request(tenant: "acme");
        repeated.Request.Headers["X-Client"] = new Microsoft.Extensions.Primitives.StringValues(["c-1", "c-2"]);
        var other = Request(tenant: "acme");
        other.Request.Headers["X-Client"] = new Microsoft.Extensions.Primitives.StringValues(["c-1", "c-3"]);
        var template = Template("{tenant}:{header:X-Client}");

        Assert.NotEqual(template.Resolve(first), template.Resolve(repeated));
        Assert.NotEqual(template.Resolve(repeated), template.Resolve(other));
    }

    [Fact]
    public void Resolve_IPv6_ItsSlash64WithColonsReplaced()
    {
        var http = Request(tenant: "t", ip: IPAddress.Parse("2001:db8:1:2::7"));

        Assert.Equal("t:2001_db8_1_2__", Template("{tenant}:{ip}").Resolve(http));
    }

    [Fact]
    public void Resolve_IPv6AddressesOfOneSlash64_OneKeyAndAnotherSlash64AnotherKey()
    {
        var template = Template("{ip}");

        var first = template.Resolve(Request(tenant: "t", ip: IPAddress.Parse("2001:db8:1:2::7")));
        var rotated = template.Resolve(Request(tenant: "t", ip: IPAddress.Parse("2001:db8:1:2:ffff:ffff:ffff:fffe")));
        var neighbour = template.Resolve(Request(tenant: "t", ip: IPAddress.Parse("2001:db8:1:3::7")));

        // The subscriber who owns 2001:db8:1:2::/64 picks any of its 2^64 addresses: all of them are one client.
        Assert.Equal(first, rotated);
        Assert.NotEqual(first, neighbour);
    }

    [Fact]
    public void Resolve_HeaderWithBracesOrColons_IsHashedAndCannotBreakTheHashTag()
    {
        var http = Request(tenant: "acme");
        http.Request.Headers["X-Client"] = "evil}:{other";

        var key = Template("{tenant}:{header:X-Client}").Resolve(http);

        Assert.StartsWith("acme:~", key, StringComparison.Ordinal);
        Assert.DoesNotContain('{', key);
        Assert.DoesNotContain('}', key);
        Assert.Equal(1, key.Count(c => c == ':'));
    }

    [Fact]
    public void Resolve_MissingValues_UseMarkerDistinctFromAnyValue()
    {
        var http = Request(tenant: null);

        Assert.Equal("~none:~none:r1", Template("{tenant}:{principal}:{route}").Resolve(http));
    }

    [Fact]
    public void Resolve_BodyPointer_ReadsBufferedBody()
    {
        var http = Request(tenant: "acme");
        http.Features.Set(new EdgeBodyFeature(Encoding.UTF8.GetBytes("""{"sender":{"id":"user-42"},"list":[{"a/b":7}]}""")));

        Assert.Equal("acme:user-42", Template("{tenant}:{body:/sender/id}").Resolve(http));
        Assert.Equal("acme:7", Template("{tenant}:{body:/list/0/a~1b}").Resolve(http));
        Assert.Equal("acme:~none", Template("{tenant}:{body:/missing}").Resolve(http));
    }

    [Fact]
    public void Resolve_BodyNotBuffered_UsesFixedUnverifiedPartition()
    {
        var http = Request(tenant: "acme");

        Assert.Equal("acme:~unverified", Template("{tenant}:{body:/sender/id}").Resolve(http));
    }

    [Fact]
    public void Resolve_BodyNotJson_UsesMissingMarker()
    {
        var http = Request(tenant: "acme");
        http.Features.Set(new EdgeBodyFeature(Encoding.UTF8.GetBytes("not json")));

        Assert.Equal("acme:~none", Template("{tenant}:{body:/sender/id}").Resolve(http));
    }

    [Theory]
    [InlineData("acme", "{tenant}:{principal}")]
    [InlineData("Acme", "{tenant}:{principal}")] // lower-cased on the stack
    [InlineData("Acme", "{principal}")]
    public void Resolve_TenantAndPrincipal_AllocatesOnlyTheKey(string tenant, string text) => AssertAllocatesOnlyTheKey(tenant, "alice", text);

    [Theory]
    [InlineData("{tenant}:{principal}")] // lower-cased on the stack
    [InlineData("{principal}")]
    public void Resolve_PrincipalInUpperCase_AllocatesOnlyTheKey(string text) => AssertAllocatesOnlyTheKey("Acme", "Alice", text);

    private static void AssertAllocatesOnlyTheKey(string tenant, string principal, string text)
    {
        var http = Request(tenant: tenant, principal: principal);
        var template = Template(text);
        template.Resolve(http);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var key = template.Resolve(http);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // The key string itself (header + 2 bytes per char) and nothing else: no builder, no enumerator.
        Assert.Equal("acme:alice", key);
        Assert.True(allocated <= 24 + (2 * key.Length) + 8, $"Resolve allocated {allocated} bytes");
    }

    private static RateLimitKeyTemplate Template(string text) =>
        RateLimitKeyTemplate.TryParse(text, out var error) ?? throw new InvalidOperationException(error);

    private static HttpContext Request(string? tenant, string? principal = null, IPAddress? ip = null)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = ip;
        // {ip} is the client address EdgeRequestMiddleware resolved (Edge:TrustedProxies rule), not the raw connection.
        http.Features.Set(new EdgeRequestFeature { RequestId = "r", RouteId = "r1", StartedAt = DateTimeOffset.UnixEpoch, ClientIp = ip?.ToString() });
        if (tenant is not null)
        {
            http.Features.Set(new EdgeTenantFeature(tenant, "Header"));
        }

        if (principal is not null)
        {
            var identity = new EdgeIdentity
            {
                Principal = principal, Roles = [], Permissions = EdgePermissionSet.None, Method = "jwt", Policy = "p", User = new ClaimsPrincipal(),
            };
            http.Features.Set<IEdgeIdentityFeature>(new AuthenticationFeature(identity.Method, identity));
        }

        return http;
    }
}
