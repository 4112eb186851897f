using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Edge.Proxy.Authorization;
using Edge.Testing;

namespace Edge.FunctionalTests.Authorization;

public sealed class ApiKeyAuthenticationTests : IAsyncLifetime
{
    private const string OldKey = "old-key-partner-a-9f2c1e7b";
    private const string NewKey = "new-key-partner-a-4d8a0b36";
    private const string GlobexKey = "key-globex-7c1d";

    private readonly TestTokens _tokens = new();
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        object Tenant(string required = "true") => new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = required };
        object Auth(string policies) => new Dictionary<string, string> { ["EdgeAuthenticate"] = policies };
        object Require(string permission) => new Dictionary<string, string> { ["EdgeRequire"] = permission };
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["keys"] = ProxyJson.Route("/k/{**rest}", Auth("partner-keys"), Require("orders.read")),
                    ["tenant-first"] = ProxyJson.Route("/tf/{**rest}", Tenant(), Auth("partner-keys,corp")),
                    ["auth-first"] = ProxyJson.Route("/af/{**rest}", Auth("partner-keys,corp"), Tenant()),
                    ["claim-tenant"] = ProxyJson.Route("/ct/{**rest}", Auth("partner-keys,corp"), new Dictionary<string, string> { ["EdgeTenant"] = "Claim", ["Name"] = "tenant_id" }),
                    ["claim-org"] = ProxyJson.Route("/co/{**rest}", Auth("partner-keys,corp"), new Dictionary<string, string> { ["EdgeTenant"] = "Claim", ["Name"] = "org", ["Required"] = "false" }),
                    ["jwt-only"] = ProxyJson.Route("/j/{**rest}", Auth("corp")),
                    ["anonymous"] = ProxyJson.Route("/anon/{**rest}", Auth("Anonymous")),
                    ["forward"] = ProxyJson.Route("/fw/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys,corp", ["ForwardAuthorization"] = "true" }),
                    ["keys-body-limit"] = ProxyJson.Route("/kb/{**rest}", Auth("partner-keys"), new Dictionary<string, string> { ["EdgeRateLimit"] = "by-account" }),
                    ["anonymous-forward"] = ProxyJson.Route("/anon-fw/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "Anonymous", ["ForwardAuthorization"] = "true" }),
                },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["partner-keys"] = new
                        {
                            Type = "ApiKey",
                            Keys = new object[]
                            {
                                new { Sha256 = Sha256Hex(OldKey), Principal = "partner-a", Tenant = "acme", Roles = new[] { "Agent" } },
                                new { Sha256 = Sha256Hex(NewKey), Principal = "partner-a", Tenant = "acme", Roles = new[] { "Agent" } },
                                new { Sha256 = Sha256Hex(GlobexKey).ToUpperInvariant(), Principal = "partner-g", Tenant = "globex", Roles = new[] { "Viewer" } },
                            },
                        },
                        ["corp"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable },
                    },
                    Roles = new Dictionary<string, string[]> { ["Agent"] = ["orders.read", "orders.write"], ["Viewer"] = ["orders.read"] },
                    RateLimits = new Dictionary<string, object> { ["by-account"] = new { Limit = 100, Window = "01:00:00", Key = "{body:/account}" } },
                }),
            // The test client connects from loopback, which acts as a trusted proxy when it sends X-Forwarded-For.
            new Dictionary<string, string?> { ["Edge:TrustedProxies"] = "127.0.0.1/32" });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        _tokens.Dispose();
    }

    [Fact]
    public async Task ApiKey_RotationOverlap_BothKeysAuthenticateSamePrincipal()
    {
        using var old = await SendAsync("/k/1", apiKey: OldKey);
        using var current = await SendAsync("/k/1", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        Assert.Equal(2, _backend.Received.Count);
        Assert.All(_backend.Received, entry =>
        {
            Assert.Equal("partner-a", entry.RequestMessage!.Headers!["X-Edge-Principal"].Single());
            Assert.Equal("Agent", entry.RequestMessage.Headers["X-Edge-Roles"].Single());
            Assert.False(entry.RequestMessage.Headers.ContainsKey("X-Api-Key"));
        });
    }

    [Theory]
    [InlineData("wrong-key")]
    [InlineData("")]
    public async Task ApiKey_UnknownKey_Returns401ApiKeyInvalid(string key)
    {
        using var response = await SendAsync("/k/1", apiKey: key);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("ApiKey realm=\"edge\", header=\"X-Api-Key\"", response.Headers.WwwAuthenticate.ToString());
        await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.ApiKeyInvalid);
        Assert.Empty(_backend.Received);
    }

    [Theory]
    [InlineData("/tf/1")]
    [InlineData("/af/1")]
    public async Task TenantBinding_KeyTenantDiffersFromRequestTenant_Returns403TenantMismatch(string path)
    {
        using var mismatch = await SendAsync(path, apiKey: NewKey, tenant: "globex");
        using var match = await SendAsync(path, apiKey: NewKey, tenant: "acme");

        Assert.Equal(HttpStatusCode.Forbidden, mismatch.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(mismatch, AuthenticationCodes.TenantMismatch);
        Assert.Equal(HttpStatusCode.OK, match.StatusCode);
        Assert.Equal("acme", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Theory]
    [InlineData("/tf/1")]
    [InlineData("/af/1")]
    public async Task TenantBinding_TokenTenantClaimDiffers_Returns403TenantMismatch(string path)
    {
        var token = TestTokens.Create(_tokens.Hs256, "carol", new Dictionary<string, object> { ["tenant_id"] = "acme" });

        using var response = await SendAsync(path, token: token, tenant: "globex");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.TenantMismatch);
        Assert.Empty(_backend.Received);
    }

    [Theory]
    [InlineData("/tf/1")]
    [InlineData("/af/1")]
    public async Task TenantBinding_TokenTenantClaimEmptyArray_Returns401NotUnbound(string path)
    {
        // A token listing no tenant is bound to none, not unbound: "tenant_id": [] (an identity provider's multi-valued
        // attribute for a user without tenants) was read as no claim, and the token was served for any tenant it named.
        var token = TestTokens.Create(_tokens.Hs256, "carol", new Dictionary<string, object> { ["tenant_id"] = Array.Empty<string>() });

        using var response = await SendAsync(path, token: token, tenant: "globex");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(response, AuthenticationCodes.TokenInvalid);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task TenantBinding_TokenWithoutTenantClaim_IsUnboundAndMayNameAnyTenant()
    {
        // Documented: an unbound credential (platform, service) names its tenant; the Claim source is the bound form.
        var token = TestTokens.Create(_tokens.Hs256, "platform-bot");

        using var response = await SendAsync("/tf/1", token: token, tenant: "globex");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("globex", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task TenantClaimSource_TokenWithoutTenantClaim_Returns400TenantMissing()
    {
        var token = TestTokens.Create(_tokens.Hs256, "platform-bot");

        using var response = await SendAsync("/ct/1", token: token, tenant: "globex");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(response, "tenant_missing");
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task TenantClaimSource_ApiKeyTenant_ForwardedAsEdgeTenant()
    {
        using var response = await SendAsync("/ct/1", apiKey: GlobexKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal("globex", headers["X-Edge-Tenant"].Single());
        Assert.Equal("partner-g", headers["X-Edge-Principal"].Single());
    }

    [Fact]
    public async Task TenantClaimSource_TokenTenantClaim_ForwardedAsEdgeTenant()
    {
        var token = TestTokens.Create(_tokens.Hs256, "dave", new Dictionary<string, object> { ["tenant_id"] = "initech" });

        using var response = await SendAsync("/ct/1", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("initech", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task TenantClaimSource_ClaimWithSeveralValues_Returns400TenantInvalid()
    {
        // An array claim is one claim per value; the step took the first (acme) while the token names globex too, and a
        // backend reading the forwarded token may take another. Only the policy's TenantClaim was checked for this.
        var token = TestTokens.Create(_tokens.Hs256, "dave", new Dictionary<string, object> { ["org"] = new[] { "acme", "globex" } });

        using var response = await SendAsync("/co/1", token: token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await JwtAuthenticationTests.AssertProblemAsync(response, "tenant_invalid");
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task TenantClaimSource_ClaimWithOneValue_ForwardedAsEdgeTenant()
    {
        var token = TestTokens.Create(_tokens.Hs256, "dave", new Dictionary<string, object> { ["org"] = new[] { "acme" } });

        using var response = await SendAsync("/co/1", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("acme", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task ForwardAuthorization_ApiKeyValidatedAlongsideForgedBearer_BackendGetsOnlyTheKey()
    {
        // The key authenticates; a backend reading the forwarded Authorization would take the forged token for one the
        // edge had checked.
        var forged = TestTokens.Create(new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(new byte[48]), "HS256"), "admin");

        using var response = await SendAsync("/fw/1", apiKey: NewKey, token: forged);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal("partner-a", headers["X-Edge-Principal"].Single());
        Assert.Equal(NewKey, headers["X-Api-Key"].Single());
        Assert.False(headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task ForwardAuthorization_TokenValidated_BackendGetsTheToken()
    {
        var token = TestTokens.Create(_tokens.Hs256, "carol");

        using var response = await SendAsync("/fw/1", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal("Bearer " + token, headers["Authorization"].Single());
        Assert.Equal("carol", headers["X-Edge-Principal"].Single());
    }

    /// <summary>
    /// Names a backend's parser files under access_token: any case or escape, PHP's spellings, the array and hash forms
    /// PHP, Rack and qs read, and one behind ';' (Rack 2, Python before 3.9.2 and Go before 1.17 also split there).
    /// </summary>
    public static TheoryData<string> AccessTokenNames() =>
    [
        "access_token", "ACCESS_TOKEN", "access%5Ftoken", "access.token", "access+token",
        "access_token%5B%5D", "access_token%5B0%5D", "access_token%5Ba%5D", "access.token%5B%5D",
        "access_token%5D", "%5Baccess_token%5D", "+access_token", "access_token%00x", "x=1;access_token",
    ];

    [Theory]
    [MemberData(nameof(AccessTokenNames))]
    public async Task Authenticate_QueryAccessToken_RemovedBeforeForwarding(string name)
    {
        // The key authenticates; a backend that accepts RFC 6750 query tokens would take the forged one for the caller.
        var forged = TestTokens.Create(new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(new byte[48]), "HS256"), "admin");

        using var response = await SendAsync($"/k/1?page=2&{name}={forged}&sort=asc", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal("?page=2&sort=asc", received.RawQuery);
        Assert.Equal("partner-a", received.Headers!["X-Edge-Principal"].Single());
    }

    [Fact]
    public async Task ForwardAuthorization_QueryAccessTokenNextToValidatedToken_OnlyTheHeaderForwarded()
    {
        var token = TestTokens.Create(_tokens.Hs256, "carol");

        using var response = await SendAsync("/fw/1?access_token=other", token: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal("Bearer " + token, received.Headers!["Authorization"].Single());
        Assert.True(string.IsNullOrEmpty(received.RawQuery));
    }

    [Fact]
    public async Task Authenticate_QueryWithoutToken_ForwardedByteForByte()
    {
        // Only a query that carries a token is rebuilt; any other keeps the escapes the client chose.
        using var response = await SendAsync("/k/1?b=%2B+x&a=%20&tokens=3&flag", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("?b=%2B+x&a=%20&tokens=3&flag", Assert.Single(_backend.Received).RequestMessage!.RawQuery);
    }

    [Fact]
    public async Task Anonymous_QueryAccessToken_RemovedBeforeForwarding()
    {
        using var response = await _edge.Client.GetAsync("/anon/1?access_token=abc&x=1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("?x=1", Assert.Single(_backend.Received).RequestMessage!.RawQuery);
    }

    [Fact]
    public async Task Anonymous_NoCredential_ForwardedWithoutIdentity()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/anon/1");
        request.Headers.Add("X-Edge-Principal", "spoofed");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(Assert.Single(_backend.Received).RequestMessage!.Headers!.ContainsKey("X-Edge-Principal"));
    }

    [Fact]
    public async Task Anonymous_ApiKeyHeaders_RemovedBeforeForwarding()
    {
        // Authorization was removed but the configured key header and its underscore spelling were forwarded: the
        // backend got a key the edge never checked on a route that documents removing every credential.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/anon/1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "unchecked.token.value");
        request.Headers.TryAddWithoutValidation("X-Api-Key", "unchecked-key");
        request.Headers.TryAddWithoutValidation("X_Api_Key", "unchecked-key-2");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.False(headers.ContainsKey("Authorization"));
        Assert.DoesNotContain(headers.Keys, name => name.Replace('_', '-').Equals("X-Api-Key", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Authenticate_JwtOnlyRoute_ConfiguredApiKeyHeaderRemoved()
    {
        // Only the listed policies' headers were removed: a key next to the token reached the backend unchecked.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/j/1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(_tokens.Hs256, "alice"));
        request.Headers.TryAddWithoutValidation("X-Api-Key", "unchecked-key");
        request.Headers.TryAddWithoutValidation("X_Api_Key", "unchecked-key-2");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.Equal("alice", headers["X-Edge-Principal"].Single());
        Assert.DoesNotContain(headers.Keys, name => name.Replace('_', '-').Equals("X-Api-Key", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Anonymous_ForwardAuthorization_ApiKeyHeaderForwarded()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/anon-fw/1");
        request.Headers.TryAddWithoutValidation("X-Api-Key", "backend-checks-this");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backend-checks-this", Assert.Single(_backend.Received).RequestMessage!.Headers!["X-Api-Key"].Single());
    }

    [Theory]
    [InlineData("/k/1")]
    [InlineData("/fw/1")]
    public async Task Authenticate_UnderscoreSpellingOfKeyHeader_NeverForwarded(string path)
    {
        // PHP, WSGI and Rack read X_Api_Key as X-Api-Key; the edge checked only the dashed one.
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("X-Api-Key", NewKey);
        request.Headers.TryAddWithoutValidation("X_Api_Key", "unchecked-key");
        request.Headers.TryAddWithoutValidation("x_api_KEY", "unchecked-key-2");

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(_backend.Received).RequestMessage!.Headers!;
        Assert.DoesNotContain(headers.Keys, name => name.Contains('_', StringComparison.Ordinal));
        Assert.Equal("partner-a", headers["X-Edge-Principal"].Single());
    }

    [Theory]
    [MemberData(nameof(AccessTokenNames))]
    public async Task Authenticate_FormBodyAccessToken_Returns400AndAuditsDeny(string name)
    {
        // RFC 6750 section 2.2: a backend accepting body tokens would take the unchecked one for the caller.
        var forged = TestTokens.Create(new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(new byte[48]), "HS256"), "admin");

        using var response = await PostFormAsync("/k/1", $"note=x&{name}={forged}", "application/x-www-form-urlencoded", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"code\":\"credential_in_body\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_backend.Received);
        var audit = await _edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((400, "deny", "EdgeAuthenticate", "credential_in_body"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Theory]
    [InlineData("/k/1")]
    [InlineData("/anon/1")]
    [InlineData("/fw/1")]
    public async Task Authenticate_FormBodyAccessTokenWithoutHeaderCredential_Returns400(string path)
    {
        // Refused before authentication: the client learns the body is not where credentials go, on every route that
        // keeps unchecked credentials from the backend (an anonymous one and one forwarding the validated header included).
        using var response = await PostFormAsync(path, "access_token=abc", "Application/X-WWW-Form-URLEncoded; charset=UTF-8");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("credential_in_body", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_FormBodyWithoutToken_ForwardedByteForByte()
    {
        const string form = "b=%2B+x&tokens=3&access_tokens=no&flag";

        using var response = await PostFormAsync("/k/1", form, "application/x-www-form-urlencoded", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(_backend.Received).RequestMessage!;
        Assert.Equal(form, received.Body);
        Assert.Equal("partner-a", received.Headers!["X-Edge-Principal"].Single());
    }

    [Fact]
    public async Task Authenticate_JsonBodyNamingAccessToken_StreamedUnread()
    {
        // Only a form body is parsed into parameters by backends without being asked; others are not read by the edge.
        const string json = "{\"access_token\":\"abc\"}";

        using var response = await PostFormAsync("/k/1", json, "application/json", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(json, Assert.Single(_backend.Received).RequestMessage!.Body);
    }

    [Fact]
    public async Task Anonymous_ForwardAuthorization_FormBodyAccessTokenForwarded()
    {
        // An anonymous route that forwards every credential (documented) reads no body.
        using var response = await PostFormAsync("/anon-fw/1", "access_token=abc", "application/x-www-form-urlencoded");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("access_token=abc", Assert.Single(_backend.Received).RequestMessage!.Body);
    }

    [Theory]
    [InlineData("/k/1", "EdgeAuthenticate")]
    [InlineData("/kb/1", "EdgeRateLimit")]
    public async Task Authenticate_FormBodyOverRouteCap_Returns413NamingTheStepThatReadsEveryBody(string path, string step)
    {
        // A form is read under the route's cap (1 MiB here); a route that buffers every body for another step keeps
        // naming that step on a refused one.
        using var response = await PostFormAsync(path, "a=" + new string('x', 1024 * 1024), "application/x-www-form-urlencoded", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(_backend.Received);
        var audit = await _edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((413, step, "body_too_large:content_length"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Authenticate_LargeNonFormBody_StreamedUnread()
    {
        // Only form bodies are read on an authenticated route: an upload over the form cap is forwarded.
        using var response = await PostFormAsync("/k/1", new string('x', 1024 * 1024 + 10), "application/octet-stream", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_backend.Received);
    }

    [Fact]
    public async Task Authenticate_ExpectContinueForm_ReadThenForwarded()
    {
        // Kestrel sends 100 Continue when the edge starts reading the form; the body then reaches the backend whole.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/k/1") { Content = new FormUrlEncodedContent([new("note", "x y")]) };
        request.Headers.ExpectContinue = true;
        request.Headers.TryAddWithoutValidation("X-Api-Key", NewKey);

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("note=x+y", Assert.Single(_backend.Received).RequestMessage!.Body);
    }

    [Fact]
    public async Task Authenticate_FormMethodOverride_Returns400AndAuditsDeny()
    {
        // Rails, Laravel and Symfony dispatch this POST as a DELETE, a method the route's checks never saw.
        using var response = await PostFormAsync("/k/7", "_method=DELETE", "application/x-www-form-urlencoded", apiKey: NewKey);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"code\":\"method_override\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_backend.Received);
        var audit = await _edge.LocalAuditDataAsync(response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal((400, "deny", "Edge", "method_override:form"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
    }

    private Task<HttpResponseMessage> PostFormAsync(string path, string body, string contentType, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body) };
        request.Content.Headers.Remove("Content-Type");
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Api-Key", apiKey);
        }

        return _edge.Client.SendAsync(request);
    }

    private Task<HttpResponseMessage> SendAsync(string path, string? apiKey = null, string? token = null, string? tenant = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (apiKey is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Api-Key", apiKey);
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-ID", tenant);
        }

        return _edge.Client.SendAsync(request);
    }

    private static string Sha256Hex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
