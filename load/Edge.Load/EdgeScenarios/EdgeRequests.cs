using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Edge.Load.Http;
using Edge.Load.Scenarios;
using Edge.Testing.Signing;

namespace Edge.Load.EdgeScenarios;

/// <summary>Request builders shared by the edge scenarios; configured once in init from CLI parameters.</summary>
internal sealed class EdgeRequests
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private string[] _tokens = [];
    private byte[] _webhookKey = [];
    private string _padding = "";
    private long _deliveries;

    public HttpClient Client { get; private set; } = null!;

    public Uri Target { get; private set; } = null!;

    /// <summary>--target plus <c>also-targets=</c>: requests alternate over them by invocation (e.g. two edge instances).</summary>
    private Uri[] _targets = [];

    public string TenantHeader { get; private set; } = "X-Tenant-ID";

    public static async Task<Response> SendAsync(HttpClient client, HttpRequestMessage request, IReadOnlySet<int> expected, CancellationToken cancellationToken) =>
        await HttpStep.SendAsync(client, request, expected, cancellationToken).ConfigureAwait(false);

    private Uri TargetFor(long invocation) => _targets.Length == 1 ? Target : _targets[invocation % _targets.Length];

    public void InitCommon(ScenarioInitContext init)
    {
        Client = init.HttpClient;
        Target = init.RequireTarget();
        _targets = [Target, .. init.GetParameter("also-targets", "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => Uri.TryCreate(t, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && Cli.RunArguments.HasNoPath(uri)
                ? uri
                : throw new FormatException($"scenario {init.ScenarioName}: also-targets entry '{t}' is not an http(s) URL with only scheme://host:port."))];
        TenantHeader = init.GetParameter("tenant-header", "X-Tenant-ID");
    }

    /// <summary>Mints a pool of tokens up front: real clients reuse a token for its lifetime, and minting stays out of the measured path.</summary>
    public void InitTokens(ScenarioInitContext init, string tenant)
    {
        var minter = new JwtMinter(SigningKey(init), init.GetParameter("iss", "https://id.example"), init.GetParameter("aud", "edge"), TimeProvider.System);
        var roles = init.GetParameter("roles", "Agent").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var lifetime = Simulations.DurationParser.Parse(init.GetParameter("token-lifetime", "1h"));
        _tokens = [.. Enumerable.Range(0, Math.Max(1, init.GetParameter("users", 16)))
            .Select(i => minter.Mint("user-" + i.ToString(CultureInfo.InvariantCulture), tenant, roles, lifetime))];
    }

    /// <summary>HS256 from <c>key=</c>; RS256/ES256 from a PEM private key in <c>signing-key=</c> with its JWKS <c>kid=</c>.</summary>
    private static JwtSigningKey SigningKey(ScenarioInitContext init)
    {
        var algorithm = init.GetParameter("alg", "HS256");
        if (algorithm == "HS256")
        {
            var key = Encoding.UTF8.GetBytes(LoadSecret.Resolve(init.GetParameter("key", "env:EDGE_JWT_HS256_KEY"), $"scenario {init.ScenarioName}: HS256 signing key"));
            return key.Length >= 32 ? JwtSigningKey.Hs256(key) : throw new InvalidOperationException($"scenario {init.ScenarioName}: the HS256 key must be at least 32 bytes.");
        }

        if (algorithm is not ("RS256" or "ES256"))
        {
            throw new FormatException($"scenario {init.ScenarioName}: alg must be HS256, RS256 or ES256, not '{algorithm}'.");
        }

        var pem = LoadSecret.Resolve(init.GetParameter("signing-key", ""), $"scenario {init.ScenarioName}: {algorithm} private key (signing-key=file:/path.pem)");
        return JwtSigningKey.FromPem(algorithm, pem, init.GetParameter("kid", algorithm.ToLowerInvariant()));
    }

    public void InitWebhook(ScenarioInitContext init)
    {
        _webhookKey = Encoding.UTF8.GetBytes(LoadSecret.Resolve(init.GetParameter("secret", "env:GITHUB_WEBHOOK_SECRET"), $"scenario {init.ScenarioName}: webhook secret"));
        _padding = new string('x', Math.Max(0, init.GetParameter("body-padding", 256)));
    }

    public HttpRequestMessage Get(string path, string? tenant, long invocation, bool withToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(TargetFor(invocation), path));
        if (tenant is not null)
        {
            request.Headers.TryAddWithoutValidation(TenantHeader, tenant);
        }

        if (withToken)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + _tokens[invocation % _tokens.Length]);
        }

        return request;
    }

    /// <summary>A GitHub-style delivery: fresh unique X-GitHub-Delivery and a valid signature over the exact bytes sent.</summary>
    public HttpRequestMessage Webhook(string path, int senders, long invocation)
    {
        var delivery = Guid.NewGuid().ToString();
        var sender = (invocation % Math.Max(1, senders)) + 1;
        var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $$"""{"action":"opened","delivery":"{{delivery}}","sequence":{{Interlocked.Increment(ref _deliveries)}},"sender":{"id":{{sender}},"login":"bot-{{sender}}"},"padding":"{{_padding}}"}"""));
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(TargetFor(invocation), path)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        request.Headers.TryAddWithoutValidation("X-GitHub-Event", "issues");
        request.Headers.TryAddWithoutValidation("X-GitHub-Delivery", delivery);
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", WebhookSigner.HubSignature(_webhookKey, body));
        request.Headers.TryAddWithoutValidation("User-Agent", "GitHub-Hookshot/edge-load");
        return request;
    }
}
