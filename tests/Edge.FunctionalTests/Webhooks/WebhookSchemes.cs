namespace Edge.FunctionalTests.Webhooks;

/// <summary>The secrets and routes of <see cref="WebhookEdgeFixture"/>, one route per scheme.</summary>
internal static class WebhookSchemes
{
    public const string GitHubSecret = "It's a Secret to Everybody";
    public const string MetaSecret = "meta-app-secret-0123456789";
    public const string MetaVerifyToken = "meta-verify-token-42";
    public const string TelegramToken = "tg_Secret-token_0123abcXYZ";
    public const string StripeSecret = "whsec_stripeTestSecret0123456789abcdef";
    public const string SlackSecret = "8f742231b10e8888abcd99yyyzzz85a5";
    public const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string OtherStandardSecret = "whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBrZXkgMTIzNA==";
    public const string GenericSecret = "generic-in-house-secret";
    public const string WrongSecret = "not-the-configured-secret";

    public static readonly byte[] EdSeed = Convert.FromBase64String("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=");
    public static readonly byte[] OtherEdSeed = WebhookSigner.Utf8("ANOTHERSIGNINGKEYNOTCONFIGURED!!");

    public static readonly SchemeUnderTest GitHub = new()
    {
        Name = "GitHub",
        Path = "/hooks/github",
        SignatureHeader = "X-Hub-Signature-256",
        Marker = "sha256=",
        Kind = SignatureKind.Hex,
        Sign = (_, id, body, wrong) => new Delivery("/hooks/github", body,
        [
            new("X-Hub-Signature-256", WebhookSigner.HubSignature(wrong ? WrongSecret : GitHubSecret, body)),
            new("X-GitHub-Delivery", id),
            new("X-GitHub-Event", "push"),
        ]),
    };

    public static readonly SchemeUnderTest Meta = new()
    {
        Name = "Meta",
        Path = "/hooks/meta",
        SignatureHeader = "X-Hub-Signature-256",
        Marker = "sha256=",
        Kind = SignatureKind.Hex,
        Sign = (_, _, body, wrong) => new Delivery("/hooks/meta", body,
            [new("X-Hub-Signature-256", WebhookSigner.HubSignature(wrong ? WrongSecret : MetaSecret, body))]),
    };

    public static readonly SchemeUnderTest Telegram = new()
    {
        Name = "Telegram",
        Path = "/hooks/telegram",
        SignatureHeader = "X-Telegram-Bot-Api-Secret-Token",
        Marker = "",
        Kind = SignatureKind.Token,
        SignsBody = false,
        Sign = (_, _, body, wrong) => new Delivery("/hooks/telegram", body,
            [new("X-Telegram-Bot-Api-Secret-Token", wrong ? "tg_Other-token_9876" : TelegramToken)]),
    };

    public static readonly SchemeUnderTest Stripe = new()
    {
        Name = "Stripe",
        Path = "/hooks/stripe",
        SignatureHeader = "Stripe-Signature",
        Marker = "v1=",
        Kind = SignatureKind.Hex,
        HasTimestamp = true,
        Sign = (ts, _, body, wrong) => new Delivery("/hooks/stripe", body,
            [new("Stripe-Signature", WebhookSigner.Stripe(wrong ? "whsec_" + WrongSecret : StripeSecret, ts, body))]),
        SetTimestamp = (d, ts) => d.WithHeader("Stripe-Signature", $"t={ts}," + d.Header("Stripe-Signature")![(d.Header("Stripe-Signature")!.IndexOf(',') + 1)..]),
    };

    public static readonly SchemeUnderTest Slack = new()
    {
        Name = "Slack",
        Path = "/hooks/slack",
        SignatureHeader = "X-Slack-Signature",
        Marker = "v0=",
        Kind = SignatureKind.Hex,
        HasTimestamp = true,
        Sign = (ts, _, body, wrong) => new Delivery("/hooks/slack", body,
        [
            new("X-Slack-Signature", WebhookSigner.Slack(wrong ? WrongSecret : SlackSecret, ts, body)),
            new("X-Slack-Request-Timestamp", ts.ToString()),
        ]),
        SetTimestamp = (d, ts) => d.WithHeader("X-Slack-Request-Timestamp", ts.ToString()),
    };

    public static readonly SchemeUnderTest StandardV1 = new()
    {
        Name = "StandardWebhooks-v1",
        Path = "/hooks/standard",
        SignatureHeader = "webhook-signature",
        Marker = "v1,",
        Kind = SignatureKind.Base64,
        HasTimestamp = true,
        Sign = (ts, id, body, wrong) => new Delivery("/hooks/standard", body,
        [
            new("webhook-id", "msg_" + id),
            new("webhook-timestamp", ts.ToString()),
            new("webhook-signature", WebhookSigner.StandardV1(wrong ? OtherStandardSecret : StandardSecret, "msg_" + id, ts, body)),
        ]),
        SetTimestamp = (d, ts) => d.WithHeader("webhook-timestamp", ts.ToString()),
    };

    public static readonly SchemeUnderTest StandardV1a = new()
    {
        Name = "StandardWebhooks-v1a",
        Path = "/hooks/standard-ed25519",
        SignatureHeader = "webhook-signature",
        Marker = "v1a,",
        Kind = SignatureKind.Base64,
        HasTimestamp = true,
        Sign = (ts, id, body, wrong) => new Delivery("/hooks/standard-ed25519", body,
        [
            new("webhook-id", "msg_" + id),
            new("webhook-timestamp", ts.ToString()),
            new("webhook-signature", WebhookSigner.StandardV1a(wrong ? OtherEdSeed : EdSeed, "msg_" + id, ts, body)),
        ]),
        SetTimestamp = (d, ts) => d.WithHeader("webhook-timestamp", ts.ToString()),
    };

    public static readonly SchemeUnderTest GenericHex = new()
    {
        Name = "Generic-sha256-hex",
        Path = "/hooks/generic",
        SignatureHeader = "X-Signature",
        Marker = "sha256=",
        Kind = SignatureKind.Hex,
        HasTimestamp = true,
        Sign = (ts, id, body, wrong) => new Delivery("/hooks/generic", body,
        [
            new("X-Signature", WebhookSigner.GenericHexSha256(wrong ? WrongSecret : GenericSecret, id, ts, body)),
            new("X-Timestamp", ts.ToString()),
            new("X-Delivery-Id", id),
        ]),
        SetTimestamp = (d, ts) => d.WithHeader("X-Timestamp", ts.ToString()),
    };

    public static readonly SchemeUnderTest GenericBase64 = new()
    {
        Name = "Generic-sha512-base64",
        Path = "/hooks/generic512",
        SignatureHeader = "X-Sig",
        Marker = "",
        Kind = SignatureKind.Base64,
        // No id and no timestamp: the verified signature itself is the replay id.
        HasReplayId = true,
        Sign = (_, _, body, wrong) => new Delivery("/hooks/generic512", body,
            [new("X-Sig", WebhookSigner.GenericBase64Sha512(wrong ? WrongSecret : GenericSecret, body))]),
    };

    public static readonly IReadOnlyDictionary<string, SchemeUnderTest> All =
        new[] { GitHub, Meta, Telegram, Stripe, Slack, StandardV1, StandardV1a, GenericHex, GenericBase64 }.ToDictionary(s => s.Name);
}
