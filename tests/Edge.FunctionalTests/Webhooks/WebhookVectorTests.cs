using System.Net;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>The providers' published test vectors, sent through a real edge whose clock is set to the vector's time.</summary>
public sealed class WebhookVectorTests
{
    private const string StandardId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long StandardTimestamp = 1614265330;
    private static readonly byte[] StandardPayload = "{\"test\": 2432232314}"u8.ToArray();

    [Fact]
    public async Task GitHub_PublishedVector_Forwarded()
    {
        var body = "Hello, World!"u8.ToArray();
        var delivery = new Delivery(WebhookSchemes.GitHub.Path, body,
        [
            new("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
            new("X-GitHub-Delivery", Guid.NewGuid().ToString()),
        ]);

        await AssertVerdictAsync(DateTimeOffset.UtcNow, delivery, HttpStatusCode.OK);
    }

    [Fact]
    public async Task StandardWebhooksV1_PublishedVector_Forwarded() =>
        await AssertVerdictAsync(DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp), Standard("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookSchemes.StandardV1.Path), HttpStatusCode.OK);

    [Fact]
    public async Task StandardWebhooksV1_PublishedWrongSignature_Refused() =>
        await AssertVerdictAsync(DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp), Standard("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", WebhookSchemes.StandardV1.Path), HttpStatusCode.Unauthorized);

    [Fact]
    public async Task StandardWebhooksV1_PublishedVectorFiveMinutesLater_Refused() =>
        await AssertVerdictAsync(DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp + 301), Standard("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookSchemes.StandardV1.Path), HttpStatusCode.Unauthorized);

    [Fact]
    public async Task StandardWebhooksV1a_PublishedVector_Forwarded()
    {
        Assert.Equal("whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=", WebhookSigner.PublicKey(WebhookSchemes.EdSeed));
        var signature = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

        await AssertVerdictAsync(DateTimeOffset.FromUnixTimeSeconds(StandardTimestamp), Standard(signature, WebhookSchemes.StandardV1a.Path), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Slack_PublishedVector_Forwarded()
    {
        var body = WebhookSigner.Utf8("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c");
        var delivery = new Delivery(WebhookSchemes.Slack.Path, body,
        [
            new("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
            new("X-Slack-Request-Timestamp", "1531420618"),
        ]);

        await AssertVerdictAsync(DateTimeOffset.FromUnixTimeSeconds(1531420618 + 299), delivery, HttpStatusCode.OK);
    }

    private static Delivery Standard(string signature, string path) => new(path, StandardPayload,
    [
        new("webhook-id", StandardId),
        new("webhook-timestamp", StandardTimestamp.ToString()),
        new("webhook-signature", signature),
    ]);

    private static async Task AssertVerdictAsync(DateTimeOffset now, Delivery delivery, HttpStatusCode expected)
    {
        using var backend = Backend.Start();
        var secrets = Directory.CreateTempSubdirectory("edge-webhook-vectors-").FullName;
        try
        {
            var json = WebhookEdgeFixture.CreateProxyJson(backend.Url, (name, value) =>
            {
                var path = Path.Combine(secrets, name);
                File.WriteAllText(path, value);
                return "file:" + path;
            });
            await using var edge = await EdgeHost.StartAsync(json, timeProvider: new FakeTimeProvider(now));

            using var response = await edge.Client.SendAsync(delivery.ToRequest());

            Assert.Equal(expected, response.StatusCode);
            if (expected == HttpStatusCode.OK)
            {
                Assert.Equal(delivery.Body, Assert.Single(backend.Received).RequestMessage!.BodyAsBytes);
            }
            else
            {
                Assert.Empty(backend.Received);
            }
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }
}
