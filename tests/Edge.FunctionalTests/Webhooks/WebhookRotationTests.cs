using System.Net;
using Edge.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>Rotation by overlap: both secrets verify while listed; after a hot reload removes the old one, only the new does.</summary>
public sealed class WebhookRotationTests : IAsyncLifetime
{
    private const string OldSecret = "old-rotation-secret";
    private const string NewSecret = "new-rotation-secret";

    private readonly string _secrets = Directory.CreateTempSubdirectory("edge-webhook-rotation-").FullName;
    private Backend _backend = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _edge = await EdgeHost.StartAsync(Config(File("old", OldSecret), File("new", NewSecret)));
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        _backend.Dispose();
        Directory.Delete(_secrets, recursive: true);
    }

    [Fact]
    public async Task Rotation_OverlapThenOldRemovedByHotReload_OnlyNewVerifies()
    {
        Assert.Equal(HttpStatusCode.OK, await SendAsync(OldSecret));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(NewSecret));

        await _edge.WriteConfigAsync(Config(File("new", NewSecret)));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await SendAsync(OldSecret) == HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var forwardedBefore = _backend.Received.Count;
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(OldSecret));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(NewSecret));
        Assert.Equal(forwardedBefore + 1, _backend.Received.Count);
    }

    [Fact]
    public async Task Reload_SecretReferenceMissing_RefusedAndOldConfigKeepsServing()
    {
        await _edge.WriteConfigAsync(Config("env:EDGE_TEST_WEBHOOK_SECRET_THAT_IS_NOT_SET"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string status;
        do
        {
            await Task.Delay(100);
            status = await _edge.Management.GetStringAsync("/edge/status");
        }
        while (!status.Contains("EDGE_TEST_WEBHOOK_SECRET_THAT_IS_NOT_SET", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("Edge:Webhooks:rotating:Secrets[0]", status, StringComparison.Ordinal);
        Assert.DoesNotContain(OldSecret, status, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(OldSecret));
    }

    [Fact]
    public async Task Reload_SecretShorterThanSixteenBytes_RefusedAndOldConfigKeepsServing()
    {
        // A 1-byte secret is found from one signed delivery in at most 256 tries; the edit is refused, not served.
        await _edge.WriteConfigAsync(Config(File("short", "k"), File("new", NewSecret)));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string status;
        do
        {
            await Task.Delay(100);
            status = await _edge.Management.GetStringAsync("/edge/status");
        }
        while (!status.Contains("shorter than 16 bytes", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("Edge:Webhooks:rotating:Secrets[0]", status, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync("k"));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(OldSecret));
    }

    private async Task<HttpStatusCode> SendAsync(string secret)
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

    private string Config(params string[] secrets) => ProxyJson.Create(
        _backend.Url,
        new Dictionary<string, object> { ["rotating"] = ProxyJson.Route("/hooks/rotating", new Dictionary<string, string> { ["EdgeWebhook"] = "rotating" }) },
        new { Webhooks = new Dictionary<string, object> { ["rotating"] = new { Scheme = "GitHub", Secrets = secrets } } });

    private string File(string name, string value)
    {
        var path = Path.Combine(_secrets, name);
        System.IO.File.WriteAllText(path, value);
        return "file:" + path;
    }
}
