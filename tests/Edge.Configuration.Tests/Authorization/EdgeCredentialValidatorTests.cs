using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Configuration.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.Configuration.Tests.Authorization;

public sealed class EdgeCredentialValidatorTests : IDisposable
{
    private const string Issuer = "https://id.test";
    private readonly string _secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private readonly string _variable = "EDGE_UNIT_HS_" + Guid.NewGuid().ToString("N");
    private readonly Dictionary<string, IReadOnlyList<string>> _roles = new()
    {
        ["Admin"] = ["*"],
        ["Agent"] = ["orders.read", "orders.write"],
        ["Viewer"] = ["orders.read"],
    };

    public EdgeCredentialValidatorTests() => Environment.SetEnvironmentVariable(_variable, _secret);

    public void Dispose() => Environment.SetEnvironmentVariable(_variable, null);

    [Fact]
    public async Task AuthenticateAsync_ValidHs256Token_ReturnsIdentityWithPermissions()
    {
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);
        var token = Token(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_secret)), "HS256"), new() { ["roles"] = new[] { "Viewer", "Agent" }, ["tenant_id"] = "acme" });

        var result = await validator.AuthenticateAsync(Request(bearer: token));

        Assert.True(result.Succeeded);
        Assert.Equal("alice", result.Identity.Principal);
        Assert.Equal("acme", result.Identity.Tenant);
        Assert.Equal(["Viewer", "Agent"], result.Identity.Roles);
        Assert.True(result.Identity.Permissions.Has("orders.write"));
        Assert.False(result.Identity.Permissions.Has("orders.assign"));
        Assert.Equal("jwt", result.Identity.Method);
    }

    [Theory]
    [InlineData("\"sub\":\"alice\",\"sub\":\"admin\"")]
    [InlineData("\"sub\":\"alice\",\"roles\":[\"Viewer\"],\"roles\":[\"Admin\"]")]
    [InlineData("\"sub\":\"alice\",\"tenant_id\":\"acme\",\"tenant_id\":\"globex\"")]
    public async Task AuthenticateAsync_ClaimNamedTwiceInPayload_RefusedAsPayloadDuplicate(string claims)
    {
        // The edge's parser took the last one (admin, Admin, globex); a backend reading the forwarded token may take the first.
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);

        var duplicate = await validator.AuthenticateAsync(Request(bearer: RawHs256("{" + claims + ",\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"exp\":EXP}")));
        var nested = await validator.AuthenticateAsync(Request(bearer: RawHs256("{\"sub\":\"alice\",\"ctx\":{\"a\":1,\"a\":2},\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"exp\":EXP}")));

        Assert.Equal("token_invalid:payload_duplicate", duplicate.FailureReason);
        Assert.True(nested.Succeeded);
    }

    [Theory]
    [InlineData("\"x\\ud800\":1")]
    [InlineData("\"roles\":[\"\\ud800\"]")]
    [InlineData("\"ctx\":{\"y\":\"\\ud800\"}")]
    public async Task AuthenticateAsync_PayloadStringEscapingLoneSurrogate_RefusedAsMalformed(string claim)
    {
        // Threw InvalidOperationException out of the step (a 500): the duplicate check decoded the name, and IdentityModel
        // decodes arrays and objects only when it builds the claims of a token whose signature is valid.
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);

        var result = await validator.AuthenticateAsync(Request(bearer: RawHs256("{\"sub\":\"alice\"," + claim + ",\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"exp\":EXP}")));

        Assert.Equal("token_invalid:malformed", result.FailureReason);
    }

    [Theory]
    [InlineData("\"x", "\":1")]
    [InlineData("\"roles\":[\"", "\"]")]
    public async Task AuthenticateAsync_PayloadStringNotUtf8_RefusedAsMalformed(string before, string after)
    {
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);
        var start = "{\"sub\":\"alice\",\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"exp\":" + DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) + ",";
        byte[] payload = [.. Encoding.UTF8.GetBytes(start + before), 0xFF, .. Encoding.UTF8.GetBytes(after + "}")];
        var signingInput = Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes("{\"alg\":\"HS256\",\"typ\":\"JWT\"}")) + "." + Base64UrlEncoder.Encode(payload);
        var token = signingInput + "." + Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_secret), Encoding.ASCII.GetBytes(signingInput)));

        var result = await validator.AuthenticateAsync(Request(bearer: token));

        Assert.Equal("token_invalid:malformed", result.FailureReason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AuthenticateAsync_SegmentWithBase64Padding_RefusedAsMalformed(int padded)
    {
        // RFC 7515 §2: base64url without '='. A padded signature is another spelling of the same token, so it passed as
        // a second cache key and a second "unique" token to a backend that remembers tokens by their text.
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);
        var exp = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var unpadded = await validator.AuthenticateAsync(Request(bearer: PaddedHs256(exp, padded: -1)));

        var result = await validator.AuthenticateAsync(Request(bearer: PaddedHs256(exp, padded)));

        Assert.True(unpadded.Succeeded);
        Assert.Equal("token_invalid:malformed", result.FailureReason);
    }

    [Theory]
    [InlineData("exp", "\"EXP\"")]
    [InlineData("nbf", "\"1\"")]
    [InlineData("iat", "\"1\"")]
    [InlineData("exp", "[EXP]")]
    [InlineData("exp", "true")]
    [InlineData("nbf", "null")]
    public async Task AuthenticateAsync_TimeClaimNotANumber_RefusedAsMalformed(string claim, string value)
    {
        // RFC 7519 §2: a NumericDate is a JSON number. IdentityModel also reads a string holding digits, so a token with
        // "exp":"9999999999" passed, and a backend reading the forwarded token may read no exp (or fail) at all.
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);
        var exp = claim == "exp" ? string.Empty : ",\"exp\":EXP";

        var result = await validator.AuthenticateAsync(Request(bearer: RawHs256("{\"sub\":\"alice\",\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"" + claim + "\":" + value + exp + "}")));

        Assert.Equal("token_invalid:malformed", result.FailureReason);
    }

    [Theory]
    [InlineData("usuário")]
    [InlineData("user\"name")]
    [InlineData("user\\name")]
    public async Task AuthenticateAsync_PrincipalClaimNameOutsideChallengeCharacters_ChallengeStaysRfc6750(string claim)
    {
        // RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E. The claim's name went in as written, so a '"'
        // ended the quoted string early (HttpClient could not parse the challenge) and a non-ASCII name left ASCII.
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy() with { PrincipalClaim = claim }, _roles);

        var result = await validator.AuthenticateAsync(Request(bearer: Token(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_secret)), "HS256"))));

        Assert.Equal("token_invalid:principal_invalid", result.FailureReason);
        Assert.Matches("^Bearer realm=\"edge\", error=\"invalid_token\", error_description=\"[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]+\"$", result.Challenge);
    }

    [Theory]
    [InlineData("scope")]
    [InlineData("scp")]
    public async Task AuthenticateAsync_RoleClaimScopeWithSeveralScopes_EachScopeIsARole(string claim)
    {
        // One space-separated string (RFC 9068); as a whole it was no valid role name, so such a token had no roles.
        var policy = HsPolicy() with { RoleClaim = claim };
        var validator = EdgeCredentialValidator.Create("corp", policy, new Dictionary<string, IReadOnlyList<string>> { ["orders.read"] = ["orders.read"] });
        var token = Token(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_secret)), "HS256"), new() { [claim] = "openid  orders.read profile" });

        var result = await validator.AuthenticateAsync(Request(bearer: token));

        Assert.True(result.Succeeded);
        Assert.Equal(["openid", "orders.read", "profile"], result.Identity.Roles);
        Assert.True(result.Identity.Permissions.Has("orders.read"));
    }

    [Theory]
    [InlineData("alg-none", "token_invalid:alg_none")]
    [InlineData("rs256", "token_invalid:algorithm")]
    [InlineData("wrong-secret", "token_invalid:signature")]
    [InlineData("expired", "token_expired")]
    [InlineData("header-only", "token_invalid:unsigned")]
    [InlineData("bad-base64", "token_invalid:malformed")]
    [InlineData("nbf-after-exp", "token_invalid:lifetime")]
    public async Task AuthenticateAsync_BadToken_FailsWithPreciseReason(string kind, string reason)
    {
        var validator = EdgeCredentialValidator.Create("corp", HsPolicy(), _roles);
        using var rsa = RSA.Create(2048);
        var token = kind switch
        {
            "alg-none" => Unsigned(),
            "rs256" => Token(new SigningCredentials(new RsaSecurityKey(rsa), "RS256")),
            "wrong-secret" => Token(new SigningCredentials(new SymmetricSecurityKey(new byte[40]), "HS256")),
            "expired" => Token(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(_secret)), "HS256"), expires: DateTime.UtcNow.AddMinutes(-10)),
            "header-only" => "eyJhbGciOiJIUzI1NiJ9..",
            // Valid now by either bound alone, but a token whose nbf lies after its exp was never valid.
            "nbf-after-exp" => RawHs256($$"""{"iss":"{{Issuer}}","aud":"edge","sub":"alice","nbf":{{DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds()}},"exp":{{DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds()}}}"""),
            _ => "!!!.???.***",
        };

        var result = await validator.AuthenticateAsync(Request(bearer: token));

        Assert.False(result.Succeeded);
        Assert.Equal(reason, result.FailureReason);
        Assert.StartsWith("Bearer realm=\"edge\"", result.Challenge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthenticateAsync_ApiKeyRotation_BothKeysMapToPrincipal()
    {
        var policy = new AuthenticationPolicyOptions
        {
            Type = "ApiKey",
            Keys =
            [
                new ApiKeyEntry { Sha256 = Hash("old"), Principal = "partner-a", Tenant = "acme", Roles = ["Agent"] },
                new ApiKeyEntry { Sha256 = Hash("new"), Principal = "partner-a", Tenant = "acme", Roles = ["Agent"] },
            ],
        };
        var validator = EdgeCredentialValidator.Create("keys", policy, _roles);

        var old = await validator.AuthenticateAsync(Request(apiKey: "old"));
        var current = await validator.AuthenticateAsync(Request(apiKey: "new"));
        var unknown = await validator.AuthenticateAsync(Request(apiKey: "other"));
        var missing = await validator.AuthenticateAsync(Request());

        Assert.Equal("partner-a", old.Identity?.Principal);
        Assert.Equal("partner-a", current.Identity?.Principal);
        Assert.Equal("acme", current.Identity?.User.FindFirst("tenant_id")?.Value);
        Assert.Equal("api_key_invalid:unknown_key", unknown.FailureReason);
        Assert.Equal(AuthenticationCodes.AuthenticationRequired, missing.FailureCode);
    }

    [Fact]
    public void Create_InvalidPolicy_ThrowsNamingTheField()
    {
        var policy = HsPolicy() with { Algorithms = ["HS256", "RS256"] };

        var error = Assert.Throws<InvalidOperationException>(() => EdgeCredentialValidator.Create("corp", policy, _roles));

        Assert.Contains("Edge:Authentication:corp:Algorithms", error.Message, StringComparison.Ordinal);
    }

    private AuthenticationPolicyOptions HsPolicy() => new()
    {
        Type = "Jwt",
        Issuer = Issuer,
        Audience = "edge",
        SigningKey = "env:" + _variable,
    };

    private static string Token(SigningCredentials credentials, Dictionary<string, object>? claims = null, DateTime? expires = null)
    {
        var payload = new Dictionary<string, object> { ["sub"] = "alice" };
        foreach (var (key, value) in claims ?? [])
        {
            payload[key] = value;
        }

        var exp = expires ?? DateTime.UtcNow.AddMinutes(5);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = "edge",
            Claims = payload,
            NotBefore = exp.AddMinutes(-30),
            IssuedAt = exp.AddMinutes(-30),
            Expires = exp,
            SigningCredentials = credentials,
        });
    }

    private string RawHs256(string payload)
    {
        static string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var signingInput = Encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." + Encode(payload.Replace("EXP", DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        return signingInput + "." + Base64UrlEncoder.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_secret), Encoding.ASCII.GetBytes(signingInput)));
    }

    /// <summary>An HS256 token whose segment number <paramref name="padded"/> (none for -1) keeps its '=' padding.</summary>
    private string PaddedHs256(string exp, int padded)
    {
        // Header and payload lengths are not multiples of 3, so each segment has padding to keep.
        string Encode(byte[] bytes, int segment)
        {
            var base64 = Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
            return segment == padded ? base64 : base64.TrimEnd('=');
        }

        var signingInput = Encode("{\"alg\":\"HS256\",\"kid\":\"k\"}"u8.ToArray(), 0) + "." + Encode(Encoding.UTF8.GetBytes("{\"sub\":\"alice\",\"iss\":\"" + Issuer + "\",\"aud\":\"edge\",\"exp\":" + exp + ",\"x\":12}"), 1);
        return signingInput + "." + Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_secret), Encoding.ASCII.GetBytes(signingInput)), 2);
    }

    private static string Unsigned()
    {
        var now = DateTimeOffset.UtcNow;
        var header = Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(new { alg = "none" }));
        var payload = Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(new { sub = "alice", iss = Issuer, aud = "edge", exp = now.AddMinutes(5).ToUnixTimeSeconds() }));
        return header + "." + payload + ".";
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static HttpRequest Request(string? bearer = null, string? apiKey = null)
    {
        var context = new DefaultHttpContext();
        if (bearer is not null)
        {
            context.Request.Headers.Authorization = "Bearer " + bearer;
        }

        if (apiKey is not null)
        {
            context.Request.Headers["X-Api-Key"] = apiKey;
        }

        return context.Request;
    }
}
