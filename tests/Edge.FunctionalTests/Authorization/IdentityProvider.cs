using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Edge.FunctionalTests.Authorization;

/// <summary>A WireMock identity provider: a bare JWKS at <c>/jwks</c> and OIDC discovery under <see cref="Authority"/>.</summary>
internal sealed class IdentityProvider : IDisposable
{
    private IdentityProvider(WireMockServer server) => Server = server;

    public WireMockServer Server { get; }

    public string BaseUrl => Server.Urls[0].TrimEnd('/');

    public string JwksUrl => BaseUrl + "/jwks";

    public string Authority => BaseUrl + "/oidc";

    public static IdentityProvider Start(TestTokens tokens)
    {
        var server = WireMockServer.Start();
        var provider = new IdentityProvider(server);
        server.Given(Request.Create().WithPath("/jwks").UsingGet())
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(tokens.JwksJson()));
        server.Given(Request.Create().WithPath("/oidc/.well-known/openid-configuration").UsingGet())
            .RespondWith(Response.Create().WithHeader("Content-Type", "application/json").WithBody(
                $$"""{"issuer":"{{TestTokens.Issuer}}","jwks_uri":"{{provider.JwksUrl}}","authorization_endpoint":"{{provider.Authority}}/authorize","id_token_signing_alg_values_supported":["RS256","ES256"]}"""));
        return provider;
    }

    public void Dispose() => Server.Stop();
}
