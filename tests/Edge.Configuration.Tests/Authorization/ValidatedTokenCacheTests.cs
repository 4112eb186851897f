using System.Security.Cryptography;
using System.Text;
using Edge.Configuration.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.Configuration.Tests.Authorization;

/// <summary>The cache of validated JWTs inside <see cref="EdgeCredentialValidator"/>, seen through its public API.</summary>
public sealed class ValidatedTokenCacheTests : IDisposable
{
    private const string Issuer = "https://id.test";
    private readonly string _secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private readonly string _rotatedSecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private readonly string _variable = "EDGE_UNIT_CACHE_HS_" + Guid.NewGuid().ToString("N");
    private readonly string _rotatedVariable = "EDGE_UNIT_CACHE_HS2_" + Guid.NewGuid().ToString("N");
    private readonly Dictionary<string, IReadOnlyList<string>> _roles = new() { ["Agent"] = ["orders.read"] };
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public ValidatedTokenCacheTests()
    {
        Environment.SetEnvironmentVariable(_variable, _secret);
        Environment.SetEnvironmentVariable(_rotatedVariable, _rotatedSecret);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(_variable, null);
        Environment.SetEnvironmentVariable(_rotatedVariable, null);
    }

    [Fact]
    public async Task AuthenticateAsync_CachedToken_HitReturnsIdenticalIdentity()
    {
        var validator = Create(_variable);
        var token = Token(_secret, _time.GetUtcNow().UtcDateTime.AddMinutes(5));

        var first = await validator.AuthenticateAsync(Request(token));
        var hit = await validator.AuthenticateAsync(Request(token));
        var fresh = await Create(_variable).AuthenticateAsync(Request(token));

        Assert.True(first.Succeeded);
        Assert.Same(first, hit);
        Assert.True(fresh.Succeeded);
        Assert.Equal(fresh.Identity.Principal, hit.Identity!.Principal);
        Assert.Equal(fresh.Identity.Tenant, hit.Identity.Tenant);
        Assert.Equal(fresh.Identity.Roles, hit.Identity.Roles);
        Assert.True(hit.Identity.Permissions.Has("orders.read"));
        Assert.Equal(
            fresh.Identity.User.Claims.Select(c => (c.Type, c.Value)),
            hit.Identity.User.Claims.Select(c => (c.Type, c.Value)));
    }

    [Fact]
    public async Task AuthenticateAsync_CachedTokenPastExpiryOnInjectedClock_RefusedAsExpired()
    {
        var validator = Create(_variable);
        var token = Token(_secret, _time.GetUtcNow().UtcDateTime.AddMinutes(5));
        Assert.True((await validator.AuthenticateAsync(Request(token))).Succeeded);

        // Inside the default 30-second skew the token is still served.
        _time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(20));
        Assert.True((await validator.AuthenticateAsync(Request(token))).Succeeded);

        _time.Advance(TimeSpan.FromSeconds(20));
        var result = await validator.AuthenticateAsync(Request(token));

        Assert.False(result.Succeeded);
        Assert.Equal(AuthenticationCodes.TokenExpired, result.FailureReason);
        Assert.Equal("alice", result.ClaimedPrincipal);
    }

    public static TheoryData<string, DateTime?, DateTime?> UnboundedLifetimes() => new()
    {
        // Many identity providers issue access tokens without nbf; exp far ahead ends at DateTime.MaxValue.
        { "no nbf", null, null },
        { "exp at the end of time", DateTime.UtcNow.AddMinutes(-1), DateTime.MaxValue },
    };

    [Theory]
    [MemberData(nameof(UnboundedLifetimes))]
    public async Task AuthenticateAsync_CachedTokenWithoutNbfOrWithFarExp_HitServedAndStillExpires(string kind, DateTime? notBefore, DateTime? expires)
    {
        var validator = Create(_variable);
        var exp = expires ?? _time.GetUtcNow().UtcDateTime.AddMinutes(5);
        var token = TokenWithLifetime(_secret, notBefore, exp);

        var first = await validator.AuthenticateAsync(Request(token));
        var hit = await validator.AuthenticateAsync(Request(token));

        Assert.True(first.Succeeded, kind);
        Assert.Same(first, hit);
        if (expires is null)
        {
            _time.Advance(TimeSpan.FromMinutes(6));
            Assert.Equal(AuthenticationCodes.TokenExpired, (await validator.AuthenticateAsync(Request(token))).FailureReason);
        }
    }

    [Fact]
    public async Task AuthenticateAsync_ForgedSignatureWithCachedPayload_NeverServedFromCache()
    {
        var validator = Create(_variable);
        var token = Token(_secret, _time.GetUtcNow().UtcDateTime.AddMinutes(5));
        Assert.True((await validator.AuthenticateAsync(Request(token))).Succeeded);
        var forged = token[..(token.LastIndexOf('.') + 1)] + Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        var otherKey = Token(Convert.ToBase64String(RandomNumberGenerator.GetBytes(40)), _time.GetUtcNow().UtcDateTime.AddMinutes(5));

        var forgedResult = await validator.AuthenticateAsync(Request(forged));
        var otherKeyResult = await validator.AuthenticateAsync(Request(otherKey));

        Assert.Equal("token_invalid:signature", forgedResult.FailureReason);
        Assert.Equal("token_invalid:signature", otherKeyResult.FailureReason);
    }

    [Fact]
    public async Task Create_ConfigReloadWithNewSigningKey_TokenCachedByOldValidatorRefused()
    {
        var before = Create(_variable);
        var token = Token(_secret, _time.GetUtcNow().UtcDateTime.AddMinutes(5));
        Assert.True((await before.AuthenticateAsync(Request(token))).Succeeded);
        Assert.True((await before.AuthenticateAsync(Request(token))).Succeeded);

        // A reload builds new validators (the edge rebuilds its steps on every Edge change); the cache does not carry over.
        var after = Create(_rotatedVariable);
        var result = await after.AuthenticateAsync(Request(token));

        Assert.Equal("token_invalid:signature", result.FailureReason);
    }

    private EdgeCredentialValidator Create(string variable) => EdgeCredentialValidator.Create(
        "corp",
        new AuthenticationPolicyOptions { Type = "Jwt", Issuer = Issuer, Audience = "edge", SigningKey = "env:" + variable },
        new EdgePermissionResolver(_roles),
        SigningKeyCache.Shared,
        _time);

    private static string Token(string secret, DateTime expires) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = "edge",
        Claims = new Dictionary<string, object> { ["sub"] = "alice", ["tenant_id"] = "acme", ["roles"] = new[] { "Agent" } },
        NotBefore = expires.AddMinutes(-30),
        IssuedAt = expires.AddMinutes(-30),
        Expires = expires,
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), "HS256"),
    });

    private static string TokenWithLifetime(string secret, DateTime? notBefore, DateTime expires) => new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = "edge",
        Claims = new Dictionary<string, object> { ["sub"] = "alice" },
        NotBefore = notBefore,
        Expires = expires,
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), "HS256"),
    });

    private static HttpRequest Request(string bearer)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Authorization = "Bearer " + bearer;
        return context.Request;
    }
}
