using System.Net;
using System.Net.Http.Headers;
using Edge.Testing;
using Microsoft.IdentityModel.Tokens;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Edge.FunctionalTests.Authorization;

public sealed class SigningKeyRefreshTests
{
    [Fact]
    public async Task Jwks_KeysCachedThenRotated_NewKidAcceptedAfterRefetch()
    {
        using var first = new TestTokens();
        using var rotated = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");

        for (var i = 0; i < 5; i++)
        {
            using var response = await SendAsync(edge, TestTokens.Create(first.Rs256));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Single(idp.Server.LogEntries, e => e.RequestMessage?.Path == "/jwks");

        // The identity provider rotates: the JWKS now only has the new keys.
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(rotated.JwksJson()));

        var status = HttpStatusCode.Unauthorized;
        for (var attempt = 0; attempt < 40 && status != HttpStatusCode.OK; attempt++)
        {
            using var response = await SendAsync(edge, TestTokens.Create(rotated.Es256));
            status = response.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(250);
            }
        }

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Jwks_KeysRotated_FirstTokenWithNewKidAccepted()
    {
        using var first = new TestTokens();
        using var rotated = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");
        using (var before = await SendAsync(edge, TestTokens.Create(first.Rs256)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(rotated.JwksJson()));

        // Past KeyRefreshMinimumInterval since the first fetch, so the unknown kid may trigger a re-fetch.
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        // The client sends its token once: a 401 for a token signed by the provider's new key is not retried.
        using var response = await SendAsync(edge, TestTokens.Create(rotated.Es256));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, idp.Server.LogEntries.Count(e => e.RequestMessage?.Path == "/jwks"));
    }

    [Fact]
    public async Task Jwks_ManyUnknownKids_AtMostOneRefetchPerMinimumInterval()
    {
        using var first = new TestTokens();
        using var stranger = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:30");
        using (var before = await SendAsync(edge, TestTokens.Create(first.Rs256)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        // An attacker's random kids: each would make the edge fetch the provider's JWKS if nothing limited it.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            var credentials = new SigningCredentials(new ECDsaSecurityKey(stranger.EcDsa) { KeyId = $"random-{i}" }, SecurityAlgorithms.EcdsaSha256);
            using var response = await SendAsync(edge, TestTokens.Create(credentials));
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
        Assert.InRange(idp.Server.LogEntries.Count(e => e.RequestMessage?.Path == "/jwks"), 1, 2);
    }

    [Fact]
    public async Task Jwks_CachedTokenThenItsKeyRotatedOut_RefusedDespiteCache()
    {
        using var first = new TestTokens();
        using var rotated = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");

        // Validated once, then served from the cache.
        var cached = TestTokens.Create(first.Rs256);
        for (var i = 0; i < 3; i++)
        {
            using var response = await SendAsync(edge, cached);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The identity provider drops the old key; a token with the new kid makes the edge re-fetch the key set.
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(rotated.JwksJson()));
        var status = HttpStatusCode.Unauthorized;
        for (var attempt = 0; attempt < 40 && status != HttpStatusCode.OK; attempt++)
        {
            using var response = await SendAsync(edge, TestTokens.Create(rotated.Es256));
            status = response.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(250);
            }
        }

        Assert.Equal(HttpStatusCode.OK, status);
        using var refused = await SendAsync(edge, cached);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Theory]
    [InlineData("""{"keys":[]}""")]
    [InlineData("{}")]
    [InlineData("""{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}""")]
    public async Task Jwks_RefetchHasNoUsableKey_LastGoodKeysKeepServing(string emptyJwks)
    {
        using var first = new TestTokens();
        using var stranger = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");
        using (var before = await SendAsync(edge, TestTokens.Create(first.Rs256)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        // The provider (or a cache in front of it) briefly serves a key set that verifies nothing.
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(emptyJwks));
        await Task.Delay(TimeSpan.FromSeconds(1.5));

        // An unknown kid makes the edge re-fetch; the empty answer must not replace the keys it has.
        using (var unknown = await SendAsync(edge, TestTokens.Create(stranger.Es256)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        }

        Assert.Equal(2, idp.Server.LogEntries.Count(e => e.RequestMessage?.Path == "/jwks"));
        using var response = await SendAsync(edge, TestTokens.Create(first.Rs256));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Jwks_FirstFetchHasNoKeys_Returns503AuthenticationUnavailable()
    {
        using var first = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        ServeEmptyKeySet(idp);
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");

        // The client is not at fault: no key set means the edge cannot authenticate anyone yet (503), not a bad token (401).
        using var response = await SendAsync(edge, TestTokens.Create(first.Rs256));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("authentication_unavailable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwks_ClientLeavesWhileKeysAreFetched_AuditedAsAuthenticationDenial499NotAllow()
    {
        using var first = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(first.JwksJson()).WithDelay(TimeSpan.FromSeconds(4)));
        using var backend = Backend.Start();
        await using var edge = await StartEdgeAsync(backend, idp, "00:00:01");

        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, edge.ProxyPort);
            await client.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(
                $"GET /r/left-waiting HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TestTokens.Create(first.Rs256)}\r\n\r\n"));
            // EdgeAuthenticate waits for the first key fetch; the client gives up before it ends.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        var audit = await edge.LocalAuditDataWhereAsync(d => d.TryGetProperty("path", out var path) && path.GetString() == "/r/left-waiting");

        // Not "allow": the request never passed EdgeAuthenticate, and nothing was forwarded.
        Assert.Equal(
            (499, "deny", "EdgeAuthenticate", "client_aborted"),
            (audit.GetProperty("status").GetInt32(), audit.GetProperty("decision").GetString(), audit.GetProperty("step").GetString(), audit.GetProperty("reason").GetString()));
        Assert.Empty(backend.Received);
    }

    [Fact]
    public async Task Jwks_FetchFails_WarningNamesTheAddressAndWhy()
    {
        // The 503 (or, later, the last good keys serving on) was all an operator saw: nothing said which fetch failed or why.
        using var first = new TestTokens();
        using var idp = IdentityProvider.Start(first);
        ServeEmptyKeySet(idp);
        using var backend = Backend.Start();
        var log = LogFile.NewPath();
        try
        {
            await using (var edge = await StartEdgeAsync(backend, idp, "00:00:01", LogFile.Settings(log)))
            {
                using var response = await SendAsync(edge, TestTokens.Create(first.Rs256));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }

            var warning = Assert.Single(await LogFile.ReadLinesAsync(log), line => line.StartsWith("Edge.Proxy.Authorization.", StringComparison.Ordinal));
            Assert.Contains("|Warning|", warning, StringComparison.Ordinal);
            Assert.Contains(idp.JwksUrl, warning, StringComparison.Ordinal);
            Assert.Contains("holds no usable signing key", warning, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
        }
    }

    /// <summary>The identity provider's JWKS answers an empty key set, ahead of its own.</summary>
    private static void ServeEmptyKeySet(IdentityProvider idp) =>
        idp.Server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .AtPriority(0)
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody("""{"keys":[]}"""));

    /// <summary>An edge whose route <c>/r/</c> takes JWTs signed by the identity provider's JWKS.</summary>
    private static Task<EdgeHost> StartEdgeAsync(Backend backend, IdentityProvider idp, string keyRefreshMinimumInterval, Dictionary<string, string?>? settings = null) =>
        EdgeHost.StartAsync(
            ProxyJson.Create(
                backend.Url,
                new Dictionary<string, object> { ["r"] = ProxyJson.Route("/r/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "corp" }) },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["corp"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, JwksUrl = idp.JwksUrl, RequireHttpsMetadata = false, KeyRefreshMinimumInterval = keyRefreshMinimumInterval },
                    },
                }),
            settings);

    private static Task<HttpResponseMessage> SendAsync(EdgeHost edge, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/r/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return edge.Client.SendAsync(request);
    }
}
