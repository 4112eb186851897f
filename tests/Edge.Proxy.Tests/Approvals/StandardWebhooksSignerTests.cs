using System.Text;
using Edge.Proxy.Approvals;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.Approvals;

public sealed class StandardWebhooksSignerTests
{
    // The Standard Webhooks reference library's v1 vector (see /work/shared/reference/webhooks.md).
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long Timestamp = 1614265330;
    private const string Payload = "{\"test\": 2432232314}";

    [Fact]
    public void Sign_ReferenceVector_MatchesThePublishedSignature()
    {
        var key = Convert.FromBase64String(Secret["whsec_".Length..]);

        var signature = StandardWebhooksSigner.Sign(key, Id, Timestamp, Encoding.UTF8.GetBytes(Payload));

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Fact]
    public void Sign_Delivery_VerifiesWithTheEdgesOwnStandardWebhooksVerifier()
    {
        var variable = "EDGE_SIGNER_TEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, Secret);
        try
        {
            var key = ApprovalsSectionValidator.ResolveNotifyKey("env:" + variable, out var error)!;
            var body = Encoding.UTF8.GetBytes("{\"type\":\"approval.requested\"}");
            var headers = new HeaderDictionary
            {
                ["webhook-id"] = "msg_1",
                ["webhook-timestamp"] = "1700000000",
                ["webhook-signature"] = StandardWebhooksSigner.Sign(key, "msg_1", 1700000000, body),
            };
            var verifier = WebhookPolicy.TryCreate("t", new WebhookPolicyOptions { Scheme = "StandardWebhooks", Secrets = ["env:" + variable] }, new ConfigErrorList())!.Verifier;

            Assert.Equal("", error);
            Assert.True(verifier.Verify(headers, body).IsValid);
            body[0] = (byte)' ';
            Assert.False(verifier.Verify(headers, body).IsValid);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
