using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>
/// One edge with a route per scheme in front of one WireMock backend, on a controllable clock. Secrets are files the
/// policies reference (<c>file:/path</c>), as in production.
/// </summary>
public sealed class WebhookEdgeFixture : IAsyncLifetime
{
    public static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_790_000_000);

    private readonly string _secrets = Directory.CreateTempSubdirectory("edge-webhook-secrets-").FullName;
    private long _sequence;

    public FakeTimeProvider Time { get; } = new(Start);

    public Backend Backend { get; private set; } = null!;

    public EdgeHost Edge { get; private set; } = null!;

    public long Now => Time.GetUtcNow().ToUnixTimeSeconds();

    public async Task InitializeAsync()
    {
        Backend = Backend.Start();
        Edge = await EdgeHost.StartAsync(CreateProxyJson(Backend.Url, SecretFile), timeProvider: Time);
    }

    public async Task DisposeAsync()
    {
        await Edge.DisposeAsync();
        Backend.Dispose();
        Directory.Delete(_secrets, recursive: true);
    }

    /// <summary>A fresh, correctly signed delivery with a unique id at the current (fake) time.</summary>
    internal Delivery Valid(SchemeUnderTest scheme, long? timestamp = null, bool wrongSecret = false)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        var id = Guid.NewGuid().ToString("N");
        return scheme.Sign(timestamp ?? Now, id, SchemeUnderTest.Body(id, sequence), wrongSecret);
    }

    internal static string CreateProxyJson(string backendUrl, Func<string, string, string> secret)
    {
        object Route(string path, string policy) => ProxyJson.Route(path, new Dictionary<string, string> { ["EdgeWebhook"] = policy });

        return ProxyJson.Create(
            backendUrl,
            new Dictionary<string, object>
            {
                ["github"] = Route(WebhookSchemes.GitHub.Path, "github"),
                ["meta"] = Route(WebhookSchemes.Meta.Path, "meta"),
                ["telegram"] = Route(WebhookSchemes.Telegram.Path, "telegram"),
                ["stripe"] = Route(WebhookSchemes.Stripe.Path, "stripe"),
                ["slack"] = Route(WebhookSchemes.Slack.Path, "slack"),
                ["standard"] = Route(WebhookSchemes.StandardV1.Path, "standard"),
                ["standard-ed25519"] = Route(WebhookSchemes.StandardV1a.Path, "standard-ed25519"),
                ["generic"] = Route(WebhookSchemes.GenericHex.Path, "generic"),
                ["generic512"] = Route(WebhookSchemes.GenericBase64.Path, "generic512"),
                ["small"] = Route("/hooks/small", "small"),
            },
            new
            {
                Webhooks = new Dictionary<string, object>
                {
                    ["github"] = new { Scheme = "GitHub", Secrets = new[] { secret("github", WebhookSchemes.GitHubSecret) } },
                    ["meta"] = new
                    {
                        Scheme = "Meta",
                        Secrets = new[] { secret("meta", WebhookSchemes.MetaSecret) },
                        VerifyTokens = new[] { secret("meta-token", WebhookSchemes.MetaVerifyToken) },
                    },
                    ["telegram"] = new { Scheme = "Telegram", Secrets = new[] { secret("telegram", WebhookSchemes.TelegramToken) } },
                    ["stripe"] = new { Scheme = "Stripe", Secrets = new[] { secret("stripe", WebhookSchemes.StripeSecret) } },
                    ["slack"] = new { Scheme = "Slack", Secrets = new[] { secret("slack", WebhookSchemes.SlackSecret) } },
                    ["standard"] = new { Scheme = "StandardWebhooks", Secrets = new[] { secret("standard", WebhookSchemes.StandardSecret) } },
                    ["standard-ed25519"] = new { Scheme = "StandardWebhooks", Secrets = new[] { secret("standard-ed", WebhookSigner.PublicKey(WebhookSchemes.EdSeed)) } },
                    ["generic"] = new
                    {
                        Scheme = "Generic",
                        Secrets = new[] { secret("generic", WebhookSchemes.GenericSecret) },
                        SignatureHeader = "X-Signature",
                        SignaturePrefix = "sha256=",
                        SignedContent = "{id}.{timestamp}.{body}",
                        TimestampHeader = "X-Timestamp",
                        IdHeader = "X-Delivery-Id",
                    },
                    ["generic512"] = new
                    {
                        Scheme = "Generic",
                        Secrets = new[] { secret("generic512", WebhookSchemes.GenericSecret) },
                        SignatureHeader = "X-Sig",
                        Algorithm = "HmacSha512",
                        Encoding = "Base64",
                    },
                    ["small"] = new { Scheme = "GitHub", Secrets = new[] { secret("small", WebhookSchemes.GitHubSecret) }, MaxBodyBytes = 1024 },
                },
            });
    }

    private string SecretFile(string name, string value)
    {
        var path = Path.Combine(_secrets, name);
        File.WriteAllText(path, value + "\n");
        return "file:" + path;
    }
}
