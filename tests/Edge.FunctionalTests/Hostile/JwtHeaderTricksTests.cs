using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.FunctionalTests.Authorization;
using Edge.Proxy.Authorization;
using Edge.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Edge.FunctionalTests.Hostile;

/// <summary>
/// Tokens whose payload is valid and whose signature is made with the real key (unless the trick is the key), but whose
/// JOSE header tries to change how the edge verifies them. Every one must be a 401 <c>token_invalid</c> that never
/// reaches the backend, and no URL named in the header may be fetched.
/// </summary>
public sealed class JwtHeaderTricksTests : IAsyncLifetime
{
    private readonly TestTokens _tokens = new();
    private IdentityProvider _idp = null!;
    private WireMockServer _attacker = null!;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _idp = IdentityProvider.Start(_tokens);
        _attacker = WireMockServer.Start();
        _attacker.Given(Request.Create().UsingAnyMethod()).RespondWith(Response.Create().WithStatusCode(200).WithBody("{\"keys\":[]}"));
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["hs"] = ProxyJson.Route("/hs/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "hs" }),
                ["jwks"] = ProxyJson.Route("/jwks/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "jwks" }),
            },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable },
                    ["jwks"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUrl = _idp.JwksUrl, RequireHttpsMetadata = false },
                },
            }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        _attacker.Stop();
        _idp.Dispose();
        _tokens.Dispose();
    }

    [Fact]
    public async Task Authenticate_ControlTokensWithSameHelpers_Accepted()
    {
        // Proves the forging helpers below sign correctly, so each refusal is due to the header alone.
        using var hs = await SendAsync("/hs/x", SignHs("""{"alg":"HS256","typ":"JWT"}"""));
        using var rs = await SendAsync("/jwks/x", SignRs($$"""{"alg":"RS256","kid":"{{_tokens.RsaKeyId}}"}"""));
        using var at = await SendAsync("/hs/x", SignHs("""{"alg":"HS256","typ":"at+jwt"}"""));

        Assert.Equal(HttpStatusCode.OK, hs.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rs.StatusCode);
        Assert.Equal(HttpStatusCode.OK, at.StatusCode);
        Assert.Equal(3, _backend.Received.Count);
    }

    public static TheoryData<string, string> CritHeaders() => new()
    {
        { "unknown-extension", """{"alg":"HS256","typ":"JWT","crit":["urn:x"],"urn:x":true}""" },
        { "listed-name-absent", """{"alg":"HS256","crit":["urn:x"]}""" },
        { "empty-array", """{"alg":"HS256","crit":[]}""" },
        { "not-an-array", """{"alg":"HS256","crit":"urn:x","urn:x":1}""" },
        { "names-standard-alg", """{"alg":"HS256","crit":["alg"]}""" },
        { "non-string-entry", """{"alg":"HS256","crit":[1],"1":1}""" },
        { "b64-false", """{"alg":"HS256","b64":false,"crit":["b64"]}""" },
    };

    [Theory]
    [MemberData(nameof(CritHeaders))]
    public async Task Authenticate_CritHeader_Returns401TokenInvalid(string kind, string header)
    {
        _ = kind;

        using var response = await SendAsync("/hs/x", SignHs(header));

        await AssertRefusedAsync(response);
    }

    public static TheoryData<string, string> HsHeaderTricks() => new()
    {
        { "alg-none", """{"alg":"none"}""" },
        { "alg-None", """{"alg":"None"}""" },
        { "alg-NONE", """{"alg":"NONE"}""" },
        { "alg-empty", """{"alg":""}""" },
        { "alg-missing", """{"typ":"JWT"}""" },
        { "alg-number", """{"alg":256}""" },
        { "alg-lowercase", """{"alg":"hs256"}""" },
        { "alg-rs256-on-hmac-key", """{"alg":"RS256"}""" },
        { "duplicate-alg", """{"alg":"none","alg":"HS256"}""" },
        { "duplicate-typ", """{"alg":"HS256","typ":"JWT","typ":"JWT"}""" },
        { "typ-jwe", """{"alg":"HS256","typ":"JWE"}""" },
        { "typ-logout", """{"alg":"HS256","typ":"logout+jwt"}""" },
        { "typ-object", """{"alg":"HS256","typ":{"a":1}}""" },
        { "cty-nested", """{"alg":"HS256","cty":"JWT"}""" },
        { "header-array", """["alg","HS256"]""" },
        { "header-trailing-garbage", """{"alg":"HS256"}x""" },
    };

    [Theory]
    [MemberData(nameof(HsHeaderTricks))]
    public async Task Authenticate_HeaderTrickSignedWithRealSecret_Returns401TokenInvalid(string kind, string header)
    {
        _ = kind;

        using var response = await SendAsync("/hs/x", SignHs(header));

        await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task Authenticate_KidPathTraversalSignedWithEmptyKey_Returns401()
    {
        // The classic: kid points at /dev/null and the token is signed with an empty HMAC key.
        var token = Sign("""{"alg":"HS256","kid":"../../../../../../dev/null"}""", data => HMACSHA256.HashData(Array.Empty<byte>(), data));

        using var hs = await SendAsync("/hs/x", token);
        using var jwks = await SendAsync("/jwks/x", token);

        await AssertRefusedAsync(hs);
        await AssertRefusedAsync(jwks);
    }

    [Fact]
    public async Task Authenticate_UnknownKidSignedWithOtherKey_Returns401()
    {
        using var other = RSA.Create(2048);
        var token = Sign("""{"alg":"RS256","kid":"does-not-exist"}""", data => other.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        using var response = await SendAsync("/jwks/x", token);

        await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task Authenticate_UnknownKidSignedWithPublishedKey_AcceptedBecauseKidIsOnlyAHint()
    {
        // Documented: kid selects a key first; a signature made by another published key still verifies (IdentityModel's
        // TryAllIssuerSigningKeys), as some identity providers send no or stale kids. kid never names a file or URL.
        using var response = await SendAsync("/jwks/x", SignRs("""{"alg":"RS256","kid":"../../does-not-exist"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_AlgorithmMismatchedToKeyType_Returns401()
    {
        // ES256 claimed, but the kid is the RSA key and the signature is RSA.
        using var es = await SendAsync("/jwks/x", SignRs($$"""{"alg":"ES256","kid":"{{_tokens.RsaKeyId}}"}"""));
        // HS256 with the RSA public key as the HMAC secret, kid pointing at the RSA key.
        var pem = Encoding.UTF8.GetBytes(_tokens.Rsa.ExportSubjectPublicKeyInfoPem());
        using var hs = await SendAsync("/jwks/x", Sign($$"""{"alg":"HS256","kid":"{{_tokens.RsaKeyId}}"}""", data => HMACSHA256.HashData(pem, data)));

        await AssertRefusedAsync(es);
        await AssertRefusedAsync(hs);
    }

    [Fact]
    public async Task Authenticate_EmbeddedAttackerKeys_IgnoredAndNeverFetched()
    {
        using var attackerKey = RSA.Create(2048);
        var parameters = attackerKey.ExportParameters(false);
        var jwk = $$"""{"kty":"RSA","kid":"attacker","n":"{{TestTokens.Base64Url(parameters.Modulus!)}}","e":"{{TestTokens.Base64Url(parameters.Exponent!)}}"}""";
        var attackerUrl = _attacker.Urls[0].TrimEnd('/');
        string SignAttacker(string header) => Sign(header, data => attackerKey.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        using var embedded = await SendAsync("/jwks/x", SignAttacker($$"""{"alg":"RS256","kid":"attacker","jwk":{{jwk}}}"""));
        using var jku = await SendAsync("/jwks/x", SignAttacker($$"""{"alg":"RS256","kid":"attacker","jku":"{{attackerUrl}}/jwks"}"""));
        using var x5u = await SendAsync("/jwks/x", SignAttacker($$"""{"alg":"RS256","kid":"attacker","x5u":"{{attackerUrl}}/cert.pem"}"""));
        using var realKid = await SendAsync("/jwks/x", SignAttacker($$"""{"alg":"RS256","kid":"{{_tokens.RsaKeyId}}","jku":"{{attackerUrl}}/jwks","jwk":{{jwk}}}"""));

        await AssertRefusedAsync(embedded);
        await AssertRefusedAsync(jku);
        await AssertRefusedAsync(x5u);
        await AssertRefusedAsync(realKid);
        Assert.Empty(_attacker.LogEntries);
    }

    [Fact]
    public async Task Authenticate_HugeHeaderOverCredentialLimit_Returns401()
    {
        var padding = new string('a', 9000);
        using var response = await SendAsync("/hs/x", SignHs($$"""{"alg":"HS256","pad":"{{padding}}"}"""));

        await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task Authenticate_DeeplyNestedHeader_Returns401()
    {
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", 64)) + "1" + new string('}', 64);
        using var response = await SendAsync("/hs/x", SignHs($$"""{"alg":"HS256","x":{{nested}}}"""));

        await AssertRefusedAsync(response);
    }

    [Fact]
    public async Task Authenticate_CompactJwe_Returns401()
    {
        var header = TestTokens.Base64Url("""{"alg":"dir","enc":"A256GCM"}"""u8.ToArray());
        var jwe = string.Join('.', header, string.Empty, TestTokens.Base64Url(new byte[12]), TestTokens.Base64Url(new byte[32]), TestTokens.Base64Url(new byte[16]));

        using var response = await SendAsync("/hs/x", jwe);

        await AssertRefusedAsync(response);
    }

    private string SignHs(string header) =>
        Sign(header, data => HMACSHA256.HashData(Encoding.UTF8.GetBytes(_tokens.HmacSecret), data));

    private string SignRs(string header) =>
        Sign(header, data => _tokens.Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// <summary>A compact JWS with the raw header given and a valid payload, signed over exactly those bytes.</summary>
    private static string Sign(string header, Func<byte[], byte[]> signature)
    {
        var now = DateTimeOffset.UtcNow;
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["sub"] = "mallory",
            ["iss"] = TestTokens.Issuer,
            ["aud"] = TestTokens.Audience,
            ["nbf"] = now.AddSeconds(-1).ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        });
        var signingInput = TestTokens.Base64Url(Encoding.UTF8.GetBytes(header)) + "." + TestTokens.Base64Url(payload);
        return signingInput + "." + TestTokens.Base64Url(signature(Encoding.ASCII.GetBytes(signingInput)));
    }

    private Task<HttpResponseMessage> SendAsync(string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _edge.Client.SendAsync(request);
    }

    private async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer realm=\"edge\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.TokenInvalid);
        Assert.Empty(_backend.Received);
    }
}
