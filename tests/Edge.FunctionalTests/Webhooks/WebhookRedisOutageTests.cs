using System.Net;
using System.Text.Json;
using Edge.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>When Redis is down, each policy applies its outage mode: the in-process cache, or a 503.</summary>
public sealed class WebhookRedisOutageTests
{
    [Fact]
    public async Task RedisDown_LocalAndRejectPolicies_FallBackOrAnswer503()
    {
        using var backend = Backend.Start();
        await using var redis = await RedisServer.StartAsync();
        var secret = Path.GetTempFileName();
        await File.WriteAllTextAsync(secret, WebhookSchemes.GitHubSecret);
        try
        {
            var json = ProxyJson.Create(
                backend.Url,
                new Dictionary<string, object>
                {
                    ["local"] = ProxyJson.Route("/hooks/local", new Dictionary<string, string> { ["EdgeWebhook"] = "local" }),
                    ["reject"] = ProxyJson.Route("/hooks/reject", new Dictionary<string, string> { ["EdgeWebhook"] = "reject" }),
                },
                new
                {
                    Webhooks = new Dictionary<string, object>
                    {
                        ["local"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + secret }, OnRedisUnavailable = "Local" },
                        ["reject"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + secret }, OnRedisUnavailable = "Reject" },
                    },
                });
            await using var edge = await EdgeHost.StartAsync(json, new Dictionary<string, string?> { ["Edge:Redis"] = redis.ConnectionString });
            Assert.Equal(HttpStatusCode.OK, await SendAsync(edge, "/hooks/reject", Guid.NewGuid().ToString()));

            redis.Kill();
            var id = Guid.NewGuid().ToString();
            var local = await SendAsync(edge, "/hooks/local", id);
            var localReplay = await SendAsync(edge, "/hooks/local", id);
            using var rejected = await edge.Client.SendAsync(Delivery("/hooks/reject", Guid.NewGuid().ToString()).ToRequest());

            Assert.Equal(HttpStatusCode.OK, local);
            Assert.Equal(HttpStatusCode.Conflict, localReplay);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
            using var problem = JsonDocument.Parse(await rejected.Content.ReadAsStringAsync());
            Assert.Equal("replay_store_unavailable", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal(TimeSpan.FromSeconds(5), rejected.Headers.RetryAfter?.Delta);
            Assert.Equal(2, backend.Received.Count);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    private static async Task<HttpStatusCode> SendAsync(EdgeHost edge, string path, string id)
    {
        using var response = await edge.Client.SendAsync(Delivery(path, id).ToRequest());
        return response.StatusCode;
    }

    private static Delivery Delivery(string path, string id)
    {
        var body = WebhookSigner.Utf8("{\"ping\": \"" + id + "\"}");
        return new Delivery(path, body, [new("X-Hub-Signature-256", WebhookSigner.HubSignature(WebhookSchemes.GitHubSecret, body)), new("X-GitHub-Delivery", id)]);
    }
}
