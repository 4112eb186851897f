using System.Net;
using System.Text.Json;
using Edge.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>Valid deliveries reach the backend byte-for-byte; size caps, the Meta handshake and retries behave.</summary>
public sealed class WebhookDeliveryTests(WebhookEdgeFixture fixture) : IClassFixture<WebhookEdgeFixture>
{
    public static TheoryData<string, string> ValidCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var scheme in WebhookSchemes.All.Keys)
        {
            data.Add(scheme, "content-length");
            data.Add(scheme, "chunked");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ValidCases))]
    public async Task Delivery_Valid_ForwardedByteForByteWithContentLength(string schemeName, string framing)
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = fixture.Valid(WebhookSchemes.All[schemeName]);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest(chunked: framing == "chunked"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(delivery.Body);
    }

    public static TheoryData<string> Schemes() => [.. WebhookSchemes.All.Keys];

    [Theory]
    [MemberData(nameof(Schemes))]
    public async Task Delivery_SignedHeaderAlsoUnderUnderscoreName_RefusedNotForwarded(string schemeName)
    {
        // X_GitHub_Delivery (or X_Hub_Signature_256, webhook_id, …) is the same variable to a backend that maps header
        // names to CGI ones (PHP, WSGI, Rack): the backend could read the copy the edge never verified.
        fixture.Backend.Server.ResetLogEntries();
        var valid = fixture.Valid(WebhookSchemes.All[schemeName]);
        var (name, _) = valid.Headers[0];

        using var response = await fixture.Edge.Client.SendAsync(valid.WithHeader(name.Replace('-', '_'), "attacker-chosen").ToRequest());

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "signature_invalid");
    }

    [Fact]
    public async Task GitHub_DeliveryIdAlsoUnderUnderscoreName_RefusedButEventAliasForwarded()
    {
        // The delivery id is what the replay check (and a deduping backend) reads; X-GitHub-Event is read by neither.
        fixture.Backend.Server.ResetLogEntries();
        var valid = fixture.Valid(WebhookSchemes.GitHub);

        using var refused = await fixture.Edge.Client.SendAsync(valid.WithHeader("X_GitHub_Delivery", "attacker-chosen").ToRequest());
        await AssertProblemAsync(refused, HttpStatusCode.Unauthorized, "signature_invalid");

        using var forwarded = await fixture.Edge.Client.SendAsync(valid.WithHeader("X_GitHub_Event", "ping").ToRequest());
        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
    }

    [Fact]
    public async Task Stripe_SeveralV1OneMatching_Forwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        var body = SchemeUnderTest.Body(Guid.NewGuid().ToString("N"), 1);
        var header = WebhookSigner.Stripe(WebhookSchemes.StripeSecret, fixture.Now, body, new string('0', 64), WebhookSigner.Hex(new byte[32]));
        var delivery = new Delivery(WebhookSchemes.Stripe.Path, body, [new("Stripe-Signature", header + ",v0=" + new string('a', 64))]);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(body);
    }

    [Fact]
    public async Task StandardWebhooks_SignatureListWithOneValidEntry_Forwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        var valid = fixture.Valid(WebhookSchemes.StandardV1);
        var list = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA= v2,abc " + valid.Header("webhook-signature");

        using var response = await fixture.Edge.Client.SendAsync(valid.WithHeader("webhook-signature", list).ToRequest());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(valid.Body);
    }

    [Fact]
    public async Task StandardWebhooks_SvixHeaders_Forwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        var valid = fixture.Valid(WebhookSchemes.StandardV1);
        var svix = new Delivery(valid.Path, valid.Body, [.. valid.Headers.Select(h => new KeyValuePair<string, string>(h.Key.Replace("webhook-", "svix-"), h.Value))]);

        using var response = await fixture.Edge.Client.SendAsync(svix.ToRequest());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(valid.Body);
    }

    [Fact]
    public async Task StandardWebhooks_StripeStyleKeyUse_Refused()
    {
        // whsec_ means "base64 follows" here; signing with the whole string as UTF-8 (Stripe's meaning) must not verify.
        fixture.Backend.Server.ResetLogEntries();
        var valid = fixture.Valid(WebhookSchemes.StandardV1);
        var id = valid.Header("webhook-id")!;
        var wrongMeaning = "v1," + Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(
            WebhookSigner.Utf8(WebhookSchemes.StandardSecret), WebhookSigner.Concat($"{id}.{fixture.Now}.", valid.Body)));

        using var response = await fixture.Edge.Client.SendAsync(valid.WithHeader("webhook-signature", wrongMeaning).ToRequest());

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "signature_invalid");
    }

    [Fact]
    public async Task Delivery_BackendFailed_SenderRetryOfSameDeliveryForwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        fixture.Backend.Server
            .Given(Request.Create().WithPath(WebhookSchemes.GitHub.Path).WithHeader("X-Test-Fail", "1"))
            .AtPriority(-10)
            .RespondWith(Response.Create().WithStatusCode(500));
        var delivery = fixture.Valid(WebhookSchemes.GitHub);

        using var failed = await fixture.Edge.Client.SendAsync(delivery.WithHeader("X-Test-Fail", "1").ToRequest());
        using var retried = await fixture.Edge.Client.SendAsync(delivery.ToRequest());
        using var replayed = await fixture.Edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        await AssertProblemAsync(replayed, HttpStatusCode.Conflict, "replayed_delivery", expectedForwards: 2);
    }

    [Fact]
    public async Task Telegram_ValidDelivery_SecretTokenNotForwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = fixture.Valid(WebhookSchemes.Telegram);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(delivery.Body);
        var received = Assert.Single(fixture.Backend.Received).RequestMessage!;
        Assert.DoesNotContain(received.Headers!.Keys, name => name.Equals("X-Telegram-Bot-Api-Secret-Token", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Telegram_BodyWithoutUpdateId_Refused()
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = fixture.Valid(WebhookSchemes.Telegram).WithBody("{\"message\":{}}"u8.ToArray());

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest());

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "delivery_id_missing");
    }

    [Theory]
    [InlineData(1025, false)]
    [InlineData(1025, true)]
    [InlineData(64 * 1024, false)]
    [InlineData(64 * 1024, true)]
    public async Task Delivery_OverPolicyCap_Returns413AndNothingForwarded(int size, bool chunked)
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = SignedGitHub("/hooks/small", size);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest(chunked));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Delivery_ExactlyAtPolicyCap_Forwarded(bool chunked)
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = SignedGitHub("/hooks/small", 1024);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest(chunked));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertForwardedIdentical(delivery.Body);
    }

    [Fact]
    public async Task Delivery_OverDefaultCapOfOneMebibyteChunked_Returns413AndNothingForwarded()
    {
        fixture.Backend.Server.ResetLogEntries();
        var delivery = SignedGitHub(WebhookSchemes.GitHub.Path, (1024 * 1024) + 1);

        using var response = await fixture.Edge.Client.SendAsync(delivery.ToRequest(chunked: true));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
    }

    [Fact]
    public async Task Delivery_Oversized_DenialCountedWithReason()
    {
        using var recorder = new EdgeCounterRecorder(fixture.Edge);

        using var response = await fixture.Edge.Client.SendAsync(SignedGitHub("/hooks/small", 4096).ToRequest());

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains(recorder.Measurements, m => m.Instrument == "edge.step.decisions"
            && m.Tags["step"] == "EdgeWebhook" && m.Tags["decision"] == "deny" && m.Tags["reason"] == "body_too_large:content_length");
        Assert.Contains(recorder.Measurements, m => m.Instrument == "edge.webhook.verifications"
            && m.Tags["policy"] == "small" && m.Tags["result"] == "body_too_large:content_length");
    }

    [Fact]
    public async Task Delivery_WrongSecret_AnswerNeverRevealsExpectedSignatureAndReasonIsCounted()
    {
        using var recorder = new EdgeCounterRecorder(fixture.Edge);
        var forged = fixture.Valid(WebhookSchemes.GitHub, wrongSecret: true);
        var expected = WebhookSigner.HubSignature(WebhookSchemes.GitHubSecret, forged.Body)["sha256=".Length..];

        using var response = await fixture.Edge.Client.SendAsync(forged.ToRequest());
        var answer = await response.Content.ReadAsStringAsync() + string.Join("\n", response.Headers.Select(h => h.Key + ": " + string.Join(",", h.Value)));
        var metrics = await fixture.Edge.Management.GetStringAsync("/metrics");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain(expected, answer, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(expected, metrics, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(WebhookSchemes.GitHubSecret, metrics, StringComparison.Ordinal);
        Assert.Contains(recorder.Measurements, m => m.Instrument == "edge.webhook.verifications"
            && m.Tags["scheme"] == "GitHub" && m.Tags["result"] == "signature_invalid:mismatch");
    }

    [Fact]
    public async Task MetaHandshake_MatchingVerifyToken_EdgeAnswersChallenge()
    {
        fixture.Backend.Server.ResetLogEntries();

        using var response = await fixture.Edge.Client.GetAsync($"{WebhookSchemes.Meta.Path}?hub.mode=subscribe&hub.verify_token={WebhookSchemes.MetaVerifyToken}&hub.challenge=1158201444");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1158201444", await response.Content.ReadAsStringAsync());
        Assert.Empty(fixture.Backend.Received);
    }

    [Theory]
    [InlineData("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444")]
    [InlineData("hub.mode=subscribe&hub.challenge=1158201444")]
    [InlineData("hub.mode=unsubscribe&hub.verify_token=" + WebhookSchemes.MetaVerifyToken + "&hub.challenge=1")]
    [InlineData("hub.mode=subscribe&hub.verify_token=" + WebhookSchemes.MetaVerifyToken)]
    [InlineData("hub.mode=subscribe&hub.verify_token=" + WebhookSchemes.MetaVerifyToken + "&hub.challenge=%3Cscript%3E")]
    public async Task MetaHandshake_WrongOrIncomplete_Returns403(string query)
    {
        fixture.Backend.Server.ResetLogEntries();

        using var response = await fixture.Edge.Client.GetAsync($"{WebhookSchemes.Meta.Path}?{query}");

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "subscribe_rejected");
    }

    private Delivery SignedGitHub(string path, int size)
    {
        var body = new byte[size];
        Random.Shared.NextBytes(body);
        return new Delivery(path, body,
        [
            new("X-Hub-Signature-256", WebhookSigner.HubSignature(WebhookSchemes.GitHubSecret, body)),
            new("X-GitHub-Delivery", Guid.NewGuid().ToString()),
        ]);
    }

    private void AssertForwardedIdentical(byte[] body)
    {
        var received = Assert.Single(fixture.Backend.Received).RequestMessage!;
        Assert.Equal(body, received.BodyAsBytes ?? []);
        Assert.Equal(body.Length.ToString(), Assert.Single(received.Headers!["Content-Length"]));
        Assert.False(received.Headers!.ContainsKey("Transfer-Encoding"));
    }

    private async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, int expectedForwards = 0)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(expectedForwards, fixture.Backend.Received.Count);
    }
}
