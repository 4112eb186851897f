using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Edge.Proxy.Authorization;
using Edge.Testing;

namespace Edge.FunctionalTests.Authorization;

public sealed class JwtAuthenticationTests : IAsyncLifetime
{
    private readonly TestTokens _tokens = new();
    private IdentityProvider _idp = null!;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;
    private string _signingVariable = null!;

    public async Task InitializeAsync()
    {
        _idp = IdentityProvider.Start(_tokens);
        _backend = Backend.Start();
        _signingVariable = "EDGE_TEST_IDENTITY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(_signingVariable, "identity-signing-key-for-tests-0123456789");
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["hs"] = ProxyJson.Route("/hs/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "legacy-hs" }),
                ["hs-forward"] = ProxyJson.Route("/hs-forward/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "legacy-hs", ["ForwardAuthorization"] = "true" }),
                ["jwks"] = ProxyJson.Route("/jwks/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "corp-jwks" }),
                ["oidc"] = ProxyJson.Route("/oidc/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "corp-oidc" }),
                ["signed"] = ProxyJson.Route(
                    "/signed/{**rest}",
                    new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "false" },
                    new Dictionary<string, string> { ["EdgeAuthenticate"] = "signed-hs" }),
                ["idp-down"] = ProxyJson.Route("/down/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "idp-down" }),
            },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["legacy-hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable, ClockSkew = "00:00:05" },
                    ["signed-hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable, IdentitySigningKey = "env:" + _signingVariable },
                    ["corp-jwks"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUrl = _idp.JwksUrl, RequireHttpsMetadata = false, ClockSkew = "00:00:05" },
                    ["corp-oidc"] = new { Type = "Jwt", Audience = TestTokens.Audience, Authority = _idp.Authority, RequireHttpsMetadata = false, Algorithms = new[] { "RS256" } },
                    ["idp-down"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUrl = $"http://127.0.0.1:{FreePort.Next()}/jwks", RequireHttpsMetadata = false },
                },
                Roles = new Dictionary<string, string[]> { ["Agent"] = ["orders.read"] },
            }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        _idp.Dispose();
        _tokens.Dispose();
        Environment.SetEnvironmentVariable(_signingVariable, null);
    }

    [Theory]
    [InlineData("/hs/x", "HS256")]
    [InlineData("/jwks/x", "RS256")]
    [InlineData("/jwks/x", "ES256")]
    [InlineData("/oidc/x", "RS256")]
    public async Task Authenticate_ValidToken_ForwardsIdentityAndStripsAuthorization(string path, string algorithm)
    {
        var token = TestTokens.Create(Credentials(algorithm), "alice", new Dictionary<string, object> { ["roles"] = new[] { "Agent", "Viewer" } });

        using var response = await SendAsync(path, token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal("alice", headers["X-Edge-Principal"].Single());
        Assert.Equal("Agent,Viewer", headers["X-Edge-Roles"].Single());
        Assert.False(headers.ContainsKey("Authorization"));
    }

    [Theory]
    [InlineData("/hs/x", "HS256")]
    [InlineData("/jwks/x", "ES256")]
    public async Task Authenticate_TokenWithoutNbfSentTwice_BothForwarded(string path, string algorithm)
    {
        // The second request is answered from the validated-token cache, whose nbf check threw on a missing nbf (500).
        var token = TestTokens.CreateWithoutNotBefore(Credentials(algorithm));

        using var first = await SendAsync(path, token);
        using var second = await SendAsync(path, token);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(2, _backend.Received.Count);
    }

    [Fact]
    public async Task Authenticate_ForwardAuthorizationTrue_BackendReceivesToken()
    {
        var token = TestTokens.Create(_tokens.Hs256);

        using var response = await SendAsync("/hs-forward/x", token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bearer " + token, Assert.Single(_backend.Received).RequestMessage!.Headers!["Authorization"].Single());
    }

    public static TheoryData<string, string, string> InvalidTokens() => new()
    {
        { "/hs/x", "expired", AuthenticationCodes.TokenExpired },
        { "/jwks/x", "expired", AuthenticationCodes.TokenExpired },
        { "/hs/x", "not-yet-valid", AuthenticationCodes.TokenNotYetValid },
        { "/jwks/x", "not-yet-valid", AuthenticationCodes.TokenNotYetValid },
        { "/hs/x", "wrong-audience", AuthenticationCodes.TokenAudienceInvalid },
        { "/jwks/x", "wrong-audience", AuthenticationCodes.TokenAudienceInvalid },
        { "/hs/x", "audience-trailing-slash", AuthenticationCodes.TokenAudienceInvalid },
        { "/jwks/x", "audience-trailing-slash", AuthenticationCodes.TokenAudienceInvalid },
        { "/hs/x", "issuer-trailing-slash", AuthenticationCodes.TokenIssuerInvalid },
        { "/hs/x", "wrong-issuer", AuthenticationCodes.TokenIssuerInvalid },
        { "/oidc/x", "wrong-issuer", AuthenticationCodes.TokenIssuerInvalid },
        { "/hs/x", "alg-none", AuthenticationCodes.TokenInvalid },
        { "/jwks/x", "alg-none", AuthenticationCodes.TokenInvalid },
        { "/jwks/x", "hs-signed-with-rsa-public-key", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "rs256-on-hs-policy", AuthenticationCodes.TokenInvalid },
        { "/oidc/x", "es256-not-pinned", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "wrong-secret", AuthenticationCodes.TokenInvalid },
        { "/jwks/x", "unknown-rsa-key", AuthenticationCodes.TokenInvalid },
        { "/jwks/x", "truncated", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "truncated", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "tampered-payload", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "garbage", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "json-garbage", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "five-parts", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "30-kib", AuthenticationCodes.TokenInvalid },
        { "/hs/x", "no-token", AuthenticationCodes.AuthenticationRequired },
        { "/hs/x", "basic-scheme", AuthenticationCodes.AuthenticationRequired },
    };

    [Theory]
    [MemberData(nameof(InvalidTokens))]
    public async Task Authenticate_InvalidToken_Returns401WithCodeAndChallenge(string path, string kind, string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        var authorization = BadAuthorization(path, kind);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Bearer realm=\"edge\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        await AssertProblemAsync(response, code);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_TenantClaimWithSeveralValues_Returns401TokenInvalid()
    {
        // Which of two tenants the token is bound to is not for the edge to guess: the first one was taken silently.
        var token = TestTokens.Create(_tokens.Hs256, "alice", new Dictionary<string, object> { ["tenant_id"] = new[] { "acme", "globex" } });

        using var response = await SendAsync("/signed/x", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await AssertProblemAsync(response, AuthenticationCodes.TokenInvalid);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_64KiBGarbageHeader_RefusedWithoutReachingBackendOr500()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hs/x");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('A', 64 * 1024));

        using var response = await _edge.Client.SendAsync(request);

        // Kestrel's 32 KiB request-header limit answers first (431); a token under that limit but over
        // MaxCredentialLength is the edge's 401 token_invalid (see the 30-kib case above).
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_SpoofedIdentityHeaders_NeverReachBackend()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hs/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(_tokens.Hs256, "alice"));
        request.Headers.Add("X-Edge-Principal", "root");
        request.Headers.Add("X-Edge-Roles", "Admin");
        request.Headers.Add("X-Edge-Signature", "v1=00");
        request.Headers.Add("x-edge-tenant", "globex");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal(["alice"], headers["X-Edge-Principal"].ToArray());
        Assert.False(headers.ContainsKey("X-Edge-Roles"));
        Assert.False(headers.ContainsKey("X-Edge-Signature"));
        Assert.False(headers.ContainsKey("X-Edge-Tenant"));
    }

    [Fact]
    public async Task Authenticate_IdentitySigningKey_BackendCanVerifySignature()
    {
        var token = TestTokens.Create(_tokens.Hs256, "bob", new Dictionary<string, object> { ["roles"] = new[] { "Agent" } });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/signed/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("X-Tenant-ID", "acme");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        string Header(string name) => headers.Single(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value.Single();
        var key = Encoding.UTF8.GetBytes("identity-signing-key-for-tests-0123456789");
        var timestamp = long.Parse(Header("X-Edge-Timestamp"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(IdentitySignature.Verify(key, Header("X-Edge-Signature"), timestamp, Header("X-Request-Id"), "POST", "/signed/x", Header("X-Edge-Principal"), Header("X-Edge-Tenant"), Header("X-Edge-Roles")));
        Assert.False(IdentitySignature.Verify(key, Header("X-Edge-Signature"), timestamp, Header("X-Request-Id"), "POST", "/signed/x", "bob", "globex", "Agent"));
        Assert.False(IdentitySignature.Verify(key, Header("X-Edge-Signature"), timestamp, Header("X-Request-Id"), "POST", "/signed/admin", Header("X-Edge-Principal"), Header("X-Edge-Tenant"), Header("X-Edge-Roles")));
        Assert.Equal("acme", Header("X-Edge-Tenant"));
    }

    [Fact]
    public async Task Authenticate_KeysUnavailable_Returns503NotAuthenticated()
    {
        using var response = await SendAsync("/down/x", TestTokens.Create(_tokens.Rs256));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await AssertProblemAsync(response, AuthenticationCodes.AuthenticationUnavailable);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_Failures_CountedInMetricsWithReason()
    {
        using var bad = await SendAsync("/hs/x", TestTokens.CreateUnsigned());

        var metrics = await _edge.Management.GetStringAsync("/metrics");

        Assert.Matches("edge_auth_failures_total\\{[^}]*reason=\"token_invalid:alg_none\"", metrics);
        Assert.Matches("edge_step_decisions_total\\{[^}]*reason=\"token_invalid:alg_none\"", metrics);
    }

    private Microsoft.IdentityModel.Tokens.SigningCredentials Credentials(string algorithm) => algorithm switch
    {
        "HS256" => _tokens.Hs256,
        "RS256" => _tokens.Rs256,
        "ES256" => _tokens.Es256,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    private string? BadAuthorization(string path, string kind)
    {
        var now = DateTime.UtcNow;
        var signer = path.StartsWith("/hs", StringComparison.Ordinal) ? _tokens.Hs256 : _tokens.Rs256;
        string Bearer(string token) => "Bearer " + token;
        var valid = TestTokens.Create(signer);
        return kind switch
        {
            "expired" => Bearer(TestTokens.Create(signer, notBefore: now.AddHours(-2), expires: now.AddHours(-1))),
            "not-yet-valid" => Bearer(TestTokens.Create(signer, notBefore: now.AddHours(1), expires: now.AddHours(2))),
            "wrong-audience" => Bearer(TestTokens.Create(signer, audience: "someone-else")),
            // RFC 7519 4.1.3 and 4.1.1: aud and iss compare as case-sensitive strings, a trailing '/' included (IdentityModel
            // ignores one on aud by default and did here).
            "audience-trailing-slash" => Bearer(TestTokens.Create(signer, audience: TestTokens.Audience + "/")),
            "wrong-issuer" => Bearer(TestTokens.Create(signer, issuer: "https://evil.test")),
            "issuer-trailing-slash" => Bearer(TestTokens.Create(signer, issuer: TestTokens.Issuer + "/")),
            "alg-none" => Bearer(TestTokens.CreateUnsigned()),
            "hs-signed-with-rsa-public-key" => Bearer(_tokens.CreateHsSignedWithRsaPublicKey()),
            "rs256-on-hs-policy" => Bearer(TestTokens.Create(_tokens.Rs256)),
            "es256-not-pinned" => Bearer(TestTokens.Create(_tokens.Es256)),
            "wrong-secret" => Bearer(TestTokens.Create(new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(new byte[48]), "HS256"))),
            "unknown-rsa-key" => Bearer(UnknownRsaToken()),
            "truncated" => Bearer(valid[..(valid.Length - 10)]),
            "tampered-payload" => Bearer(Tamper(valid)),
            "garbage" => Bearer("not-a-token"),
            "json-garbage" => Bearer("eyJ%%%.e30.AAAA"),
            "five-parts" => Bearer("a.b.c.d.e"),
            "30-kib" => Bearer(new string('A', 30 * 1024)),
            "no-token" => null,
            "basic-scheme" => "Basic YWxpY2U6c2VjcmV0",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static string UnknownRsaToken()
    {
        using var other = System.Security.Cryptography.RSA.Create(2048);
        return TestTokens.Create(new(new Microsoft.IdentityModel.Tokens.RsaSecurityKey(other) { KeyId = "unknown" }, "RS256"));
    }

    private static string Tamper(string token)
    {
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"alice\"", "\"admin\"", StringComparison.Ordinal);
        return parts[0] + "." + TestTokens.Base64Url(Encoding.UTF8.GetBytes(payload)) + "." + parts[2];
    }

    private Task<HttpResponseMessage> SendAsync(string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _edge.Client.SendAsync(request);
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, string code)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
    }
}
