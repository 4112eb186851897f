using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Edge.Configuration.Authorization;
using Edge.Testing;

namespace Edge.FunctionalTests.Authorization;

/// <summary>
/// The identity signature binds the request target as the backend reads it off the wire, after the route's own path
/// and query transforms, so identity headers captured from one request do not verify for another path or query.
/// </summary>
public sealed class IdentitySignatureTargetTests : IAsyncLifetime
{
    private const string SigningSecret = "identity-signing-key-for-target-tests-0123";
    private readonly TestTokens _tokens = new();
    private readonly string _signingVariable = "EDGE_TEST_IDENTITY_TARGET_" + Guid.NewGuid().ToString("N");
    private RawHttpBackend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable(_signingVariable, SigningSecret);
        _backend = RawHttpBackend.Start();
        _edge = await EdgeHost.StartAsync(ProxyJson.Create(
            _backend.Url,
            new Dictionary<string, object>
            {
                ["rewritten"] = ProxyJson.Route(
                    "/api/{**rest}",
                    new Dictionary<string, string> { ["EdgeAuthenticate"] = "signed-hs" },
                    new Dictionary<string, string> { ["PathRemovePrefix"] = "/api" },
                    new Dictionary<string, string> { ["PathPrefix"] = "/legacy" },
                    new Dictionary<string, string> { ["QueryValueParameter"] = "via", ["Append"] = "edge" }),
            },
            new
            {
                Authentication = new Dictionary<string, object>
                {
                    ["signed-hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "env:" + _tokens.HmacEnvironmentVariable, IdentitySigningKey = "env:" + _signingVariable },
                },
            }));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _backend.DisposeAsync();
        _tokens.Dispose();
        Environment.SetEnvironmentVariable(_signingVariable, null);
    }

    [Theory]
    [InlineData("GET", "/api/orders/42?page=2&q=a%20b")]
    [InlineData("GET", "/api/caf%C3%A9/a%2Fb?x=%E2%82%AC")]
    [InlineData("DELETE", "/api/")]
    [InlineData("POST", "/api/orders;v=1?&&x=%2B+1")]
    public async Task IdentitySignature_PathAndQueryTransforms_VerifiesAgainstWireTargetOnly(string method, string sent)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), sent);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(_tokens.Hs256, "carol"));

        using var response = await _edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(_backend.Received);
        Assert.StartsWith("/legacy/", received.Target, StringComparison.Ordinal);
        var key = Encoding.UTF8.GetBytes(SigningSecret);
        var timestamp = long.Parse(received.Header("X-Edge-Timestamp"), CultureInfo.InvariantCulture);
        var signature = received.Header("X-Edge-Signature");
        var requestId = received.Header("X-Request-Id");
        Assert.True(IdentitySignature.Verify(key, signature, timestamp, requestId, method, received.Target, "carol", null, null));
        Assert.False(IdentitySignature.Verify(key, signature, timestamp, requestId, method, sent, "carol", null, null));
        Assert.False(IdentitySignature.Verify(key, signature, timestamp, requestId, method, "/legacy/admin?via=edge", "carol", null, null));
        Assert.False(IdentitySignature.Verify(key, signature, timestamp, requestId, method, received.Target + "&admin=1", "carol", null, null));
    }
}
