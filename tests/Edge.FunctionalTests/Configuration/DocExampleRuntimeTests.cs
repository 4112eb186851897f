using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Edge.Testing;
using Edge.Testing.Docs;
using Microsoft.Extensions.Configuration;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// The main examples of README.md and each capability page, completed as the validator test completes them
/// (<see cref="DocExamples"/>), load in a real edge and serve one request as the text around them says. Every
/// cluster points at a WireMock backend.
/// </summary>
public sealed class DocExampleRuntimeTests
{
    [Fact]
    public async Task Start_ReadmeQuickStartProxyJson_TenantForwarded()
    {
        // The README demo is the shipped proxy.json: its first curl.
        var root = DocExamples.RepositoryRoot();
        var example = new DocExample("proxy.json", 1, ExampleKind.Valid, await File.ReadAllTextAsync(Path.Combine(root, "proxy.json")));
        await using var run = await StartAsync(example);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/42") { Headers = { { "X-Tenant-ID", "acme" } } };
        using var response = await run.Edge.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("acme", Assert.Single(run.Backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
    }

    [Fact]
    public async Task Start_ConfigurationPageProxyJson_TenantForwardedAndMissingTenantRefused()
    {
        await using var run = await StartAsync(DocExamples.Find("docs/configuration.md", "\"Tenancy\": { \"ForwardHeader\""));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/orders/42") { Headers = { { "X-Tenant-ID", "acme" } } };
        using var forwarded = await run.Edge.Client.SendAsync(request);
        using var refused = await run.Edge.Client.GetAsync("/orders/42");

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("acme", Assert.Single(run.Backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("\"code\":\"tenant_missing\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CorsPreflightRouteNextToTenantRoute_PreflightForwardedWithoutTenantOtherMethodsStillNeedIt()
    {
        // The page's claim: next to a route with EdgeTenant on the same path, YARP picks the preflight route for preflights.
        await using var run = await StartAsync(DocExamples.Find("docs/configuration.md", "\"orders-preflight\""), document =>
            document["ReverseProxy"]!["Routes"]!["orders"] = JsonNode.Parse("""
                { "ClusterId": "legacy-orders", "Match": { "Path": "/orders/{**rest}" },
                  "Transforms": [ { "EdgeTenant": "Header", "Name": "X-Tenant-ID" } ] }
                """));

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/orders/42")
        {
            Headers = { { "Origin", "https://app.example" }, { "Access-Control-Request-Method", "POST" } },
        };
        using var forwarded = await run.Edge.Client.SendAsync(preflight);
        using var plainOptions = await run.Edge.Client.SendAsync(new HttpRequestMessage(HttpMethod.Options, "/orders/42"));

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("preflight", Assert.Single(run.Backend.Received).RequestMessage!.Headers!["X-Edge-Tenant"].Single());
        Assert.Equal(HttpStatusCode.BadRequest, plainOptions.StatusCode);
    }

    [Theory]
    [InlineData("docs/rate-limiting.md", "\"per-tenant-user\": {")]
    [InlineData("docs/webhooks.md", "\"github-main\": { \"Scheme\": \"GitHub\"")]
    public async Task Start_GitHubWebhookExample_SignedDeliveryForwardedForgedRefused(string file, string contains)
    {
        await using var run = await StartAsync(DocExamples.Find(file, contains));
        var secret = Environment.GetEnvironmentVariable("EDGE_DOCS_EXAMPLE_GITHUB_WEBHOOK_SECRET")!;
        var body = Encoding.UTF8.GetBytes("""{"sender":{"id":7},"action":"opened"}""");

        using var signed = await run.Edge.Client.SendAsync(Delivery(body, WebhookSigner.HubSignature(secret, body), "d-1"));
        using var forged = await run.Edge.Client.SendAsync(Delivery(body, WebhookSigner.HubSignature("not-the-secret", body), "d-2"));

        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        Assert.Single(run.Backend.Received);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
    }

    [Fact]
    public async Task Start_ValidationPageExample_ValidOrderForwardedInvalidRefusedWithPointers()
    {
        await using var run = await StartAsync(DocExamples.Find("docs/validation.md", "\"orders-create\": {"));

        using var valid = await run.Edge.Client.SendAsync(Order("""{"amount":1200,"currency":"EUR","items":[{"sku":"A-1","qty":2}]}"""));
        using var invalid = await run.Edge.Client.SendAsync(Order("""{"amount":"12","currency":"eur","items":[{"sku":"A-1"}],"coupon":"X"}"""));

        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        Assert.Equal((HttpStatusCode)422, invalid.StatusCode);
        Assert.Contains("\"pointer\":\"/amount\"", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(run.Backend.Received);
    }

    [Fact]
    public async Task Start_AuthenticationPageStepsAndPolicies_PartnerKeyForwardedAsPartnerWithoutKeyRefused()
    {
        // The page's two blocks together: its steps on a route, its Edge section as written (the API key hash is the
        // SHA-256 of the README demo's key, whose role Agent grants both permissions the route requires).
        var stepsSecrets = Directory.CreateTempSubdirectory("edge-docs-runtime-").FullName;
        var steps = DocExamples.Complete(DocExamples.Find("docs/authentication.md", "\"EdgeRequire\": \"orders.read,orders.write\""), stepsSecrets);
        Directory.Delete(stepsSecrets, recursive: true);
        await using var run = await StartAsync(DocExamples.Find("docs/authentication.md", "\"partner-keys\": { \"Type\": \"ApiKey\""), document =>
        {
            var route = steps["ReverseProxy"]!["Routes"]![DocExamples.ExampleRouteId]!.DeepClone();
            document["ReverseProxy"]!["Routes"]![DocExamples.ExampleRouteId] = route;
            document["ReverseProxy"]!["Clusters"]![DocExamples.ExampleRouteId] = JsonNode.Parse("""{ "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""");
        });

        using var withKey = new HttpRequestMessage(HttpMethod.Get, "/example/orders")
        {
            Headers = { { "X-Tenant-ID", "acme" }, { "X-Api-Key", "demo-partner-key-acme-0001" } },
        };
        using var forwarded = await run.Edge.Client.SendAsync(withKey);
        using var withoutKey = new HttpRequestMessage(HttpMethod.Get, "/example/orders") { Headers = { { "X-Tenant-ID", "acme" } } };
        using var refused = await run.Edge.Client.SendAsync(withoutKey);

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("partner-a", Assert.Single(run.Backend.Received).RequestMessage!.Headers!["X-Edge-Principal"].Single());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task Start_ApprovalsPageExample_PaymentHeldForApproval()
    {
        await using var run = await StartAsync(DocExamples.Find("docs/approvals.md", "\"EdgeApproval\": \"payments\""));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/payments/transfer")
        {
            Headers = { { "X-Tenant-ID", "acme" }, { "X-Api-Key", DocExamples.FilledApiKey } },
            Content = new StringContent("""{"amount":100,"to":"DE89"}""", Encoding.UTF8, "application/json"),
        };
        using var response = await run.Edge.Client.SendAsync(request);

        Assert.Equal((HttpStatusCode)428, response.StatusCode);
        Assert.Contains("\"code\":\"approval_required\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(run.Backend.Received);
    }

    [Fact]
    public async Task Start_ThreatProtectionPageRules_TwentyBadKeysThenBanned()
    {
        // The rules apply to every route; the page has none, so the test adds one that authenticates.
        await using var run = await StartAsync(DocExamples.Find("docs/threat-protection.md", "\"credential-guessing\""), document =>
        {
            document["ReverseProxy"]!["Routes"]![DocExamples.ExampleRouteId] = JsonNode.Parse("""
                { "ClusterId": "example", "Match": { "Path": "/example/{**rest}" },
                  "Transforms": [ { "EdgeTenant": "Static", "Value": "acme" }, { "EdgeAuthenticate": "keys" } ] }
                """);
            document["ReverseProxy"]!["Clusters"]![DocExamples.ExampleRouteId] = JsonNode.Parse("""{ "Destinations": { "d1": { "Address": "http://127.0.0.1:9/" } } }""");
            document["Edge"]!["Authentication"] = JsonNode.Parse($$"""
                { "keys": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(DocExamples.FilledApiKey)))}}", "Principal": "p" } ] } }
                """);
        });

        // credential-guessing: 20 AuthenticationFailed of one {ip} within a minute ban it for ten minutes.
        for (var i = 0; i < 20; i++)
        {
            using var guess = new HttpRequestMessage(HttpMethod.Get, "/example/x") { Headers = { { "X-Api-Key", "guess-" + i } } };
            using var refused = await run.Edge.Client.SendAsync(guess);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var right = new HttpRequestMessage(HttpMethod.Get, "/example/x") { Headers = { { "X-Api-Key", DocExamples.FilledApiKey } } };
        using var blocked = await run.Edge.Client.SendAsync(right);

        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
        Assert.Contains("\"code\":\"client_blocked\"", await blocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(blocked.Headers.RetryAfter);
        Assert.Empty(run.Backend.Received);
    }

    private static HttpRequestMessage Delivery(byte[] body, string signature, string deliveryId) =>
        new(HttpMethod.Post, "/hooks/github")
        {
            Headers = { { "X-Hub-Signature-256", signature }, { "X-GitHub-Delivery", deliveryId }, { "X-GitHub-Event", "issues" } },
            Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
        };

    private static HttpRequestMessage Order(string json) =>
        new(HttpMethod.Post, "/api/orders")
        {
            Headers = { { "X-Tenant-ID", "acme" } },
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };

    [Fact]
    public async Task Start_DeploymentPageTlsSettings_Http2AndHttp11ByAlpnAndManagementOverPlainHttp()
    {
        // The appsettings.json of "TLS at the edge", with the test's own certificate files and free ports in place of
        // the page's paths and ports.
        var example = DocExamples.Find("docs/deployment.md", "\"KeyPath\"");
        var directory = Directory.CreateTempSubdirectory("edge-docs-tls-").FullName;
        using var certificate = TestCertificate.Create();
        var https = FreePort.Next();
        var management = FreePort.Next();
        var text = example.Text
            .Replace("/etc/edge/tls/tls.crt", certificate.WriteCertificatePem(directory), StringComparison.Ordinal)
            .Replace("/etc/edge/tls/tls.key", certificate.WriteKeyPem(directory), StringComparison.Ordinal)
            .Replace("https://0.0.0.0:8443", $"https://127.0.0.1:{https}", StringComparison.Ordinal)
            .Replace("http://127.0.0.1:9901", $"http://127.0.0.1:{management}", StringComparison.Ordinal);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var settings = new ConfigurationBuilder().AddJsonStream(stream).Build()
            .AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
        settings["Edge:ManagementUrls"] = $"http://127.0.0.1:{management}";
        using var backend = Backend.Start();
        await using var edge = await EdgeHost.StartAsync(ProxyJson.Create(backend.Url, new Dictionary<string, object> { ["all"] = ProxyJson.Route("/{**rest}") }), settings);
        using var client = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true } });
        using var probes = new HttpClient();

        using var h2 = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"https://localhost:{https}/x") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact });
        using var h1 = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"https://localhost:{https}/x") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact });
        using var ready = await probes.GetAsync($"http://127.0.0.1:{management}/readyz");

        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (h2.StatusCode, h2.Version));
        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version11), (h1.StatusCode, h1.Version));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Directory.Delete(directory, recursive: true);
    }

    private static async Task<Run> StartAsync(DocExample example, Action<JsonObject>? amend = null)
    {
        var backend = Backend.Start();
        var secrets = Directory.CreateTempSubdirectory("edge-docs-runtime-").FullName;
        try
        {
            var document = DocExamples.Complete(example, secrets);
            amend?.Invoke(document);
            foreach (var (_, cluster) in document["ReverseProxy"]!["Clusters"]!.AsObject())
            {
                foreach (var (_, destination) in cluster!["Destinations"]!.AsObject())
                {
                    destination!["Address"] = backend.Url;
                }
            }

            var edge = await EdgeHost.StartAsync(document.ToJsonString());
            return new Run(backend, edge, secrets);
        }
        catch
        {
            backend.Dispose();
            Directory.Delete(secrets, recursive: true);
            throw;
        }
    }

    private sealed record Run(Backend Backend, EdgeHost Edge, string SecretsDirectory) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Edge.DisposeAsync();
            Backend.Dispose();
            Directory.Delete(SecretsDirectory, recursive: true);
        }
    }
}
