using System.Net;
using System.Text;
using Edge.Testing;

namespace Edge.FunctionalTests.RateLimiting;

/// <summary>A per-sender limit keyed on the webhook body, after the signature step verified that body.</summary>
public sealed class RateLimitWebhookSenderTests
{
    private const string Secret = "per-sender-test-secret";

    [Fact]
    public async Task EdgeRateLimit_BodyKeyAfterWebhook_LimitsEachVerifiedSenderSeparately()
    {
        using var backend = Backend.Start();
        var secretFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(secretFile, Secret);
        try
        {
            var config = ProxyJson.Create(
                backend.Url,
                new Dictionary<string, object>
                {
                    ["github"] = ProxyJson.Route(
                        "/hooks/github",
                        new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" },
                        new Dictionary<string, string> { ["EdgeWebhook"] = "github" },
                        new Dictionary<string, string> { ["EdgeRateLimit"] = "per-sender" }),
                },
                new
                {
                    Webhooks = new Dictionary<string, object> { ["github"] = new { Scheme = "GitHub", Secrets = new[] { "file:" + secretFile } } },
                    RateLimits = new Dictionary<string, object> { ["per-sender"] = new { Limit = 2, Window = "01:00:00", Key = "{tenant}:{body:/sender/id}" } },
                });
            await using var edge = await EdgeHost.StartAsync(config);

            var sender1 = new List<HttpStatusCode>();
            for (var i = 0; i < 3; i++)
            {
                using var response = await edge.Client.SendAsync(Delivery(senderId: 1));
                sender1.Add(response.StatusCode);
            }

            using var forged = await edge.Client.SendAsync(Delivery(senderId: 2, secret: "wrong"));
            using var sender2 = await edge.Client.SendAsync(Delivery(senderId: 2));

            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], sender1);
            Assert.False(forged.IsSuccessStatusCode);
            Assert.Null(RateLimitRoutes.Header(forged, "X-RateLimit-Remaining")); // refused before the limiter counted it
            Assert.Equal(HttpStatusCode.OK, sender2.StatusCode);
            Assert.Equal("1", RateLimitRoutes.Header(sender2, "X-RateLimit-Remaining"));
        }
        finally
        {
            File.Delete(secretFile);
        }
    }

    private static HttpRequestMessage Delivery(int senderId, string secret = Secret)
    {
        var id = Guid.NewGuid().ToString();
        var body = Encoding.UTF8.GetBytes($$$"""{"action":"opened","delivery":"{{{id}}}","sender":{"id":{{{senderId}}},"login":"user{{{senderId}}}"}}""");
        var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/github") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-Hub-Signature-256", WebhookSigner.HubSignature(secret, body));
        request.Headers.Add("X-GitHub-Delivery", id);
        request.Headers.Add("X-GitHub-Event", "pull_request");
        return request;
    }
}
