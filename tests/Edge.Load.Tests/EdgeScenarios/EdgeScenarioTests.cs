using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edge.Load.EdgeScenarios;
using Edge.Load.Running;
using Edge.Load.Simulations;
using Edge.Testing.Signing;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Edge.Load.Tests.EdgeScenarios;

public sealed class EdgeScenarioTests
{
    private const string WebhookSecret = "It's a Secret to Everybody";
    private const string JwtKey = "a-test-only-hs256-key-of-at-least-32-bytes";

    [Fact]
    public void Sign_GitHubDocumentationVector_Matches() =>
        Assert.Equal("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            WebhookSigner.HubSignature(Encoding.UTF8.GetBytes(WebhookSecret), "Hello, World!"u8));

    [Fact]
    public void Mint_Hs256_TokenVerifiesAndCarriesEdgeClaims()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var minter = new JwtMinter(JwtSigningKey.Hs256(Encoding.UTF8.GetBytes(JwtKey)), "https://id.example", "edge", time);

        var token = minter.Mint("user-7", "acme", ["Agent", "Viewer"], TimeSpan.FromMinutes(10));

        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(JwtKey), Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]));
        Assert.True(CryptographicOperations.FixedTimeEquals(expected, Base64Url.DecodeFromChars(parts[2])));
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("HS256", header.RootElement.GetProperty("alg").GetString());
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        var claims = payload.RootElement;
        Assert.Equal("user-7", claims.GetProperty("sub").GetString());
        Assert.Equal("acme", claims.GetProperty("tenant_id").GetString());
        Assert.Equal(["Agent", "Viewer"], claims.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("https://id.example", claims.GetProperty("iss").GetString());
        Assert.Equal("edge", claims.GetProperty("aud").GetString());
        Assert.Equal(1_800_000_600, claims.GetProperty("exp").GetInt64());
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    public void Mint_AsymmetricKey_SignatureVerifiesWithThePublishedJwk(string algorithm)
    {
        using var rsa = RSA.Create(2048);
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = algorithm == "RS256" ? JwtSigningKey.Rs256(rsa, "k1") : JwtSigningKey.Es256(ecdsa, "k1");

        var token = new JwtMinter(key, "https://id.example", "edge", TimeProvider.System).Mint("user-1", "acme", ["Agent"], TimeSpan.FromMinutes(5));

        var parts = token.Split('.');
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal(algorithm, header.RootElement.GetProperty("alg").GetString());
        Assert.Equal("k1", header.RootElement.GetProperty("kid").GetString());
        using var jwks = JsonDocument.Parse(JwtSigningKey.JwksJson(key));
        var jwk = jwks.RootElement.GetProperty("keys")[0];
        var input = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        var signature = Base64Url.DecodeFromChars(parts[2]);
        if (algorithm == "RS256")
        {
            using var verifier = RSA.Create(new RSAParameters { Modulus = Base64Url.DecodeFromChars(jwk.GetProperty("n").GetString()), Exponent = Base64Url.DecodeFromChars(jwk.GetProperty("e").GetString()) });
            Assert.True(verifier.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
        else
        {
            using var verifier = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()), Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()) },
            });
            Assert.True(verifier.VerifyData(input, signature, HashAlgorithmName.SHA256));
        }
    }

    [Fact]
    public async Task Webhook_AgainstWireMock_EverySignatureVerifiesOverTheReceivedBytesAndDeliveriesAreUnique()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/hooks/github").UsingPost()).RespondWith(Response.Create().WithStatusCode(200));

        var report = await RunAsync("webhook", server.Url!, new() { ["secret"] = TestBackends.SecretFile(WebhookSecret) });

        var entries = server.LogEntries.Select(e => e.RequestMessage!).ToList();
        Assert.Equal(report.Global.Ok.Count, entries.Count);
        Assert.True(entries.Count > 0);
        var key = Encoding.UTF8.GetBytes(WebhookSecret);
        foreach (var message in entries)
        {
            var signature = message.Headers!["X-Hub-Signature-256"].Single();
            Assert.Equal(WebhookSigner.HubSignature(key, message.BodyAsBytes), signature);
        }

        var deliveries = entries.Select(m => m.Headers!["X-GitHub-Delivery"].Single()).ToList();
        Assert.Equal(deliveries.Count, deliveries.Distinct().Count());
    }

    [Fact]
    public async Task JwtRbac_AgainstWireMock_SendsBearerTokenAndTenantHeader()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/orders/1").UsingGet().WithHeader("Authorization", "Bearer *").WithHeader("X-Tenant-ID", "acme"))
            .RespondWith(Response.Create().WithStatusCode(200));

        var report = await RunAsync("jwt-rbac", server.Url!, new() { ["key"] = TestBackends.SecretFile(JwtKey), ["users"] = "3" });

        Assert.True(report.Global.Ok.Count > 0);
        Assert.Equal(0, report.Global.Fail.Count);
        var tokens = server.LogEntries.Select(e => e.RequestMessage!.Headers!["Authorization"].Single()).Distinct().ToList();
        Assert.Equal(3, tokens.Count);
    }

    [Fact]
    public async Task TenantLimit_429IsAnExpectedOutcomeAnd500IsAFailure()
    {
        using var server = TestBackends.StartWireMock();
        server.Given(Request.Create().WithPath("/orders/1").UsingGet()).RespondWith(Response.Create().WithStatusCode(429));
        server.Given(Request.Create().WithPath("/broken").UsingGet()).RespondWith(Response.Create().WithStatusCode(500));

        var limited = await RunAsync("tenant-limit", server.Url!, []);
        var broken = await RunAsync("tenant-limit", server.Url!, new() { ["path"] = "/broken" });

        Assert.Equal(0, limited.Global.Fail.Count);
        Assert.Equal([new("429", limited.Global.Ok.Count)], limited.Global.Ok.StatusCodes);
        Assert.Equal(0, broken.Global.Ok.Count);
        Assert.Equal([new("500", broken.Global.Fail.Count)], broken.Global.Fail.StatusCodes);
        Assert.All(server.LogEntries, e => Assert.Equal("noisy", e.RequestMessage!.Headers!["X-Tenant-ID"].Single()));
    }

    private static async Task<Edge.Load.Reporting.ScenarioReport> RunAsync(string name, string target, Dictionary<string, string> parameters)
    {
        var scenario = EdgeScenarioCatalog.Find(name)!.Create().WithLoadSimulations(Simulation.Inject(20, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500)));
        var report = await LoadTest.RunAsync([scenario], new LoadTestOptions { Target = new Uri(target), Parameters = parameters });
        return report.Scenarios.Single();
    }
}
