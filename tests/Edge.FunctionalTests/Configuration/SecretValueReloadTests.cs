using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Edge.FunctionalTests.Authorization;
using Edge.FunctionalTests.Webhooks;
using Edge.Testing;
using Microsoft.IdentityModel.Tokens;

namespace Edge.FunctionalTests.Configuration;

/// <summary>
/// A secret rotated behind an unchanged <c>env:</c>/<c>file:</c> reference (a Kubernetes secret file, say) takes effect
/// with the next reload, also when that reload changed nothing else of the <c>Edge</c> section.
/// </summary>
public sealed class SecretValueReloadTests : IAsyncLifetime
{
    private readonly string _secrets = Directory.CreateTempSubdirectory("edge-secret-reload-").FullName;
    private readonly string _oldKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private readonly string _newKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(40));
    private Backend _backend = null!;
    private EdgeHost _edge = null!;
    private string _keyFile = null!;
    private string _webhookFile = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _keyFile = Path.Combine(_secrets, "jwt-hs256");
        await File.WriteAllTextAsync(_keyFile, _oldKey + "\n");
        _webhookFile = Path.Combine(_secrets, "webhook");
        await File.WriteAllTextAsync(_webhookFile, "old-webhook-secret");
        _edge = await EdgeHost.StartAsync(Config(extraRoute: false));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Directory.Delete(_secrets, recursive: true);
    }

    [Fact]
    public async Task Reload_SigningKeyFileRotatedAndRouteAdded_OldKeyRefusedNewKeyAccepted()
    {
        var cachedOld = Token(_oldKey);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(cachedOld));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(Token(_newKey)));

        // The key leaked: the operator replaces the secret file, then edits proxy.json so the edge reloads.
        await File.WriteAllTextAsync(_keyFile, _newKey + "\n");
        await _edge.WriteConfigAsync(Config(extraRoute: true));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await _edge.Client.GetAsync("/status")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(cachedOld));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(Token(_oldKey)));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(Token(_newKey)));
    }

    [Fact]
    public async Task Reload_WebhookSecretFileRotatedAndRouteAdded_OldSecretRefusedNewSecretAccepted()
    {
        Assert.Equal(HttpStatusCode.OK, await DeliverAsync("old-webhook-secret"));

        await File.WriteAllTextAsync(_webhookFile, "new-webhook-secret");
        await _edge.WriteConfigAsync(Config(extraRoute: true));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await _edge.Client.GetAsync("/status")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await DeliverAsync("old-webhook-secret"));
        Assert.Equal(HttpStatusCode.OK, await DeliverAsync("new-webhook-secret"));
    }

    private async Task<HttpStatusCode> DeliverAsync(string secret)
    {
        var body = WebhookSigner.Utf8($"{{\"n\": \"{Guid.NewGuid()}\"}}");
        var delivery = new Delivery("/hooks/rotating", body,
        [
            new("X-Hub-Signature-256", WebhookSigner.HubSignature(secret, body)),
            new("X-GitHub-Delivery", Guid.NewGuid().ToString()),
        ]);
        using var response = await _edge.Client.SendAsync(delivery.ToRequest());
        return response.StatusCode;
    }

    private static string Token(string key) => TestTokens.Create(new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256));

    private async Task<HttpStatusCode> SendAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hs/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _edge.Client.SendAsync(request);
        return response.StatusCode;
    }

    private string Config(bool extraRoute)
    {
        var routes = new Dictionary<string, object>
        {
            ["hs"] = ProxyJson.Route("/hs/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "legacy-hs" }),
            ["hooks"] = ProxyJson.Route("/hooks/rotating", new Dictionary<string, string> { ["EdgeWebhook"] = "rotating" }),
        };
        if (extraRoute)
        {
            routes["status"] = ProxyJson.Route("/status");
        }

        return ProxyJson.Create(_backend.Url, routes, new
        {
            Authentication = new Dictionary<string, object>
            {
                ["legacy-hs"] = new { Type = "Jwt", Issuer = TestTokens.Issuer, Audience = TestTokens.Audience, SigningKey = "file:" + _keyFile },
            },
            Webhooks = new Dictionary<string, object> { ["rotating"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + _webhookFile } } },
        });
    }
}
