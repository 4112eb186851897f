using System.Net;
using Edge.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>Two edge instances sharing one real redis-server accept a delivery exactly once.</summary>
public sealed class WebhookRedisReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Theory]
    [InlineData("StandardWebhooks-v1")]
    [InlineData("GitHub")]
    [InlineData("Stripe")]
    public async Task ConcurrentReplays_TwoEdgesSharingRedis_ExactlyOneForwarded(string schemeName)
    {
        using var backend = Backend.Start();
        var secrets = Directory.CreateTempSubdirectory("edge-webhook-redis-").FullName;
        try
        {
            var json = WebhookEdgeFixture.CreateProxyJson(backend.Url, (name, value) =>
            {
                var path = Path.Combine(secrets, name);
                File.WriteAllText(path, value);
                return "file:" + path;
            });
            var settings = new Dictionary<string, string?> { ["Edge:Redis"] = redis.Server.ConnectionString };
            await using var first = await EdgeHost.StartAsync(json, settings);
            await using var second = await EdgeHost.StartAsync(json, settings);
            await WaitUntilReadyAsync(first);
            await WaitUntilReadyAsync(second);
            var scheme = WebhookSchemes.All[schemeName];
            var id = Guid.NewGuid().ToString("N");
            var delivery = scheme.Sign(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), id, SchemeUnderTest.Body(id, 7), false);

            var sends = Enumerable.Range(0, 16).Select(async i =>
            {
                var client = i % 2 == 0 ? first.Client : second.Client;
                using var response = await client.SendAsync(delivery.ToRequest());
                return response.StatusCode;
            });
            var statuses = await Task.WhenAll(sends);

            // A Redis call that times out on a loaded machine answers 503 (the default outage mode), never a second 200.
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
            Assert.All(statuses.Where(s => s != HttpStatusCode.OK), s => Assert.Contains(s, new[] { HttpStatusCode.Conflict, HttpStatusCode.ServiceUnavailable }));
            Assert.Contains(HttpStatusCode.Conflict, statuses);
            Assert.Equal(delivery.Body, Assert.Single(backend.Received).RequestMessage!.BodyAsBytes);

            using var connection = redis.Server.Connect();
            var server = connection.GetServers()[0];
            Assert.Contains(server.Keys(pattern: "edge:webhook:{*}:*"), k => ((string)k!).StartsWith("edge:webhook:{", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }

    private static Task WaitUntilReadyAsync(EdgeHost edge) => edge.WaitUntilRedisConnectedAsync();
}
