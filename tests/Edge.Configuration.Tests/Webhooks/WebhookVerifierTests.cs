using System.Security.Cryptography;
using System.Text;
using Edge.Configuration.Webhooks;
using Microsoft.AspNetCore.Http;

namespace Edge.Configuration.Tests.Webhooks;

/// <summary>The published vectors of webhooks.md against each verifier, plus the decoding rules that keep mutations out.</summary>
public sealed class WebhookVerifierTests
{
    private const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private static readonly byte[] StandardPayload = "{\"test\": 2432232314}"u8.ToArray();

    [Fact]
    public void Verify_GitHubPublishedVector_Valid()
    {
        var verifier = Policy("GitHub", "It's a Secret to Everybody").Verifier;
        var headers = Headers(("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), ("X-GitHub-Delivery", "d-1"));

        var result = verifier.Verify(headers, "Hello, World!"u8);

        Assert.True(result.IsValid);
        Assert.Equal("d-1", result.DeliveryId);
    }

    [Fact]
    public void Verify_GitHubVectorUpperCaseHex_Invalid()
    {
        var verifier = Policy("GitHub", "It's a Secret to Everybody").Verifier;
        var headers = Headers(("X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"));

        var result = verifier.Verify(headers, "Hello, World!"u8);

        Assert.Equal("signature_invalid:malformed_hex", result.Reason);
    }

    [Theory]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", true)]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", false)]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", false)]
    [InlineData("v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", false)]
    [InlineData("v1,bad v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", true)]
    public void Verify_StandardWebhooksV1PublishedVector_AsExpected(string signature, bool valid)
    {
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;

        var result = verifier.Verify(StandardHeaders(signature), StandardPayload);

        Assert.Equal(valid, result.IsValid);
        Assert.Equal(valid ? 1614265330 : null, result.Timestamp);
    }

    [Theory]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", 7, true)]
    [InlineData("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", 8, false)]
    [InlineData("v2,AAAA", 500, true)]
    public void Verify_StandardWebhooksLongSignatureList_RefusedBeyondEightEntriesOfSupportedVersions(string filler, int fillers, bool valid)
    {
        // Each entry of a supported version costs a pass over the body (an Ed25519 check hashes it per entry): a header
        // of hundreds of entries turned one unsigned request into hundreds of body hashes.
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;
        var signature = string.Join(' ', Enumerable.Repeat(filler, fillers)) + " v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

        var result = verifier.Verify(StandardHeaders(signature), StandardPayload);

        Assert.Equal(valid ? null : "signature_invalid:too_many_signatures", result.Reason);
    }

    [Fact]
    public void Verify_StandardWebhooksV1aPublishedVector_Valid()
    {
        var verifier = Policy("StandardWebhooks", "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=").Verifier;
        var signature = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

        Assert.True(verifier.Verify(StandardHeaders(signature), StandardPayload).IsValid);
        Assert.False(verifier.Verify(StandardHeaders(signature), "{\"test\": 2432232315}"u8).IsValid);
    }

    [Theory]
    [InlineData("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", true)]
    [InlineData("svix-id", "msg_other", false)]
    [InlineData("svix-timestamp", "1614265331", false)]
    [InlineData("svix-signature", "v1,AAAA", false)]
    public void Verify_StandardWebhooksWithSvixTwins_TwinsMustMatchVerifiedHeaders(string twin, string value, bool valid)
    {
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;
        var headers = StandardHeaders("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        headers[twin] = value;

        var result = verifier.Verify(headers, StandardPayload);

        Assert.Equal(valid, result.IsValid);
        Assert.Equal(valid ? null : "signature_invalid:header_conflict", result.Reason);
    }

    [Theory]
    [InlineData("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", true)]
    [InlineData("webhook-id", "msg_attacker_chosen", false)]
    [InlineData("webhook-timestamp", "1", false)]
    public void Verify_SvixHeadersWithWebhookTwins_TwinsMustMatchVerifiedHeaders(string twin, string value, bool valid)
    {
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;
        var headers = Headers(("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("svix-timestamp", "1614265330"), ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        headers[twin] = value;

        var result = verifier.Verify(headers, StandardPayload);

        Assert.Equal(valid, result.IsValid);
        Assert.Equal(valid ? null : "signature_invalid:header_conflict", result.Reason);
    }

    [Fact]
    public void Verify_SvixHeadersOnly_VerifiedUnderSvixNames()
    {
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;
        var headers = Headers(("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("svix-timestamp", "1614265330"), ("svix-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));

        var result = verifier.Verify(headers, StandardPayload);

        Assert.True(result.IsValid);
        Assert.Equal("msg_p5jXN8AQM9LWM0D4loKWxJek", result.DeliveryId);
    }

    [Fact]
    public void Verify_SlackPublishedVector_Valid()
    {
        var verifier = Policy("Slack", "8f742231b10e8888abcd99yyyzzz85a5").Verifier;
        var body = Encoding.UTF8.GetBytes("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c");
        var headers = Headers(("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"), ("X-Slack-Request-Timestamp", "1531420618"));

        var result = verifier.Verify(headers, body);

        Assert.True(result.IsValid);
        Assert.Equal(1531420618, result.Timestamp);
    }

    [Fact]
    public void Verify_StripeKeyIsWholeWhsecStringNotBase64_OnlyUtf8KeyVerifies()
    {
        const string secret = "whsec_dGVzdHNlY3JldGZvcnN0cmlwZQ==";
        var verifier = Policy("Stripe", secret).Verifier;
        var body = "{\"id\":\"evt_1\"}"u8.ToArray();
        byte[] Sign(byte[] key) => HMACSHA256.HashData(key, (byte[])[.. "1700000000."u8, .. body]);

        var asUtf8 = verifier.Verify(Headers(("Stripe-Signature", "t=1700000000,v1=" + Convert.ToHexStringLower(Sign(Encoding.UTF8.GetBytes(secret))))), body);
        var asBase64 = verifier.Verify(Headers(("Stripe-Signature", "t=1700000000,v1=" + Convert.ToHexStringLower(Sign(Convert.FromBase64String(secret[6..]))))), body);

        Assert.True(asUtf8.IsValid);
        Assert.Equal(1700000000, asUtf8.Timestamp);
        Assert.Equal("signature_invalid:mismatch", asBase64.Reason);
    }

    [Theory]
    [InlineData("v1=abc", "signature_invalid:timestamp_malformed")]
    [InlineData("t=1700000000", "signature_invalid:no_v1_signature")]
    [InlineData("t=1700000000,v0=00", "signature_invalid:no_v1_signature")]
    [InlineData("t=1700000000,t=1700000001,v1=00", "signature_invalid:timestamp_repeated")]
    [InlineData("t=-5,v1=00", "signature_invalid:timestamp_malformed")]
    [InlineData("garbage", "signature_invalid:malformed_header")]
    public void Verify_StripeMalformedHeader_PreciseReason(string header, string reason)
    {
        var verifier = Policy("Stripe", "whsec_stripeTestSecret0123").Verifier;

        Assert.Equal(reason, verifier.Verify(Headers(("Stripe-Signature", header)), "{}"u8).Reason);
    }

    [Fact]
    public void Verify_TelegramToken_ConstantTimeEquality()
    {
        var verifier = Policy("Telegram", "tg_secret-token-0001").Verifier;

        Assert.True(verifier.Verify(Headers(("X-Telegram-Bot-Api-Secret-Token", "tg_secret-token-0001")), "{}"u8).IsValid);
        Assert.Equal("signature_invalid:mismatch", verifier.Verify(Headers(("X-Telegram-Bot-Api-Secret-Token", "tg_secret-token-0002")), "{}"u8).Reason);
        Assert.Equal("signature_missing:header_absent", verifier.Verify(Headers(), "{}"u8).Reason);
    }

    [Fact]
    public void Verify_GenericTemplateWithHeaderPlaceholder_SignsTheHeaderValue()
    {
        var options = new WebhookPolicyOptions
        {
            Scheme = "Generic",
            Secrets = [Secret("in-house-secret-0123")],
            SignatureHeader = "X-Sig",
            SignaturePrefix = "sha512=",
            Algorithm = "HmacSha512",
            Encoding = "Base64",
            SignedContent = "{id}.{timestamp}.{header:X-Tenant}.{body}",
            TimestampHeader = "X-Ts",
            IdHeader = "X-Id",
        };
        var verifier = WebhookPolicy.TryCreate("p", options, new ConfigErrorList())!.Verifier;
        var body = "{\"a\":1}"u8.ToArray();
        var mac = Convert.ToBase64String(HMACSHA512.HashData("in-house-secret-0123"u8, [.. "id-9.1700000000.acme."u8, .. body]));

        var valid = verifier.Verify(Headers(("X-Sig", "sha512=" + mac), ("X-Ts", "1700000000"), ("X-Id", "id-9"), ("X-Tenant", "acme")), body);
        var otherTenant = verifier.Verify(Headers(("X-Sig", "sha512=" + mac), ("X-Ts", "1700000000"), ("X-Id", "id-9"), ("X-Tenant", "globex")), body);

        Assert.True(valid.IsValid);
        Assert.Equal("id-9", valid.DeliveryId);
        Assert.False(otherTenant.IsValid);
    }

    [Fact]
    public void Verify_HeaderSentTwice_Invalid()
    {
        var verifier = Policy("GitHub", "a-webhook-secret-0123").Verifier;
        var headers = new HeaderDictionary { ["X-Hub-Signature-256"] = new(["sha256=00", "sha256=11"]) };

        Assert.Equal("signature_invalid:header_repeated", verifier.Verify(headers, "x"u8).Reason);
    }

    [Fact]
    public void Verify_GitHubDeliveryHeaderRepeated_HeaderRepeatedNotMissing()
    {
        // Two delivery ids are ambiguous (the backend may dedupe on either), not absent: the client must not be told
        // its delivery "carries no id".
        var verifier = Policy("GitHub", "It's a Secret to Everybody").Verifier;
        var headers = new HeaderDictionary
        {
            ["X-Hub-Signature-256"] = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ["X-GitHub-Delivery"] = new(["d-1", "d-2"]),
        };

        Assert.Equal("signature_invalid:header_repeated", verifier.Verify(headers, "Hello, World!"u8).Reason);
    }

    public static TheoryData<string> Schemes() => ["GitHub", "Meta", "Telegram", "Stripe", "Slack", "StandardWebhooks", "Generic"];

    [Theory]
    [MemberData(nameof(Schemes))]
    public void MissingSignature_EveryHeaderCombination_SameVerdictAsVerifyOnMissingOnly(string scheme)
    {
        // The edge refuses on MissingSignature before it reads the body, so it must answer signature_missing exactly when
        // Verify would (and the same reason), whatever else the headers hold: absent, present, repeated or malformed.
        var verifier = scheme == "Generic"
            ? WebhookPolicy.TryCreate("p", new WebhookPolicyOptions
            {
                Scheme = "Generic", Secrets = [Secret("a-webhook-secret-0123")], SignatureHeader = "X-Sig", SignaturePrefix = "sha256=",
                SignedContent = "{id}.{timestamp}.{body}", TimestampHeader = "X-Ts", IdHeader = "X-Id",
            }, new ConfigErrorList())!.Verifier
            : Policy(scheme, scheme == "StandardWebhooks" ? StandardSecret : "a-webhook-secret-0123").Verifier;
        (string Name, string[] Values)[] candidates = scheme switch
        {
            "GitHub" or "Meta" => [("X-Hub-Signature-256", ["sha256=" + new string('0', 64)]), ("X-GitHub-Delivery", ["d-1"])],
            "Telegram" => [("X-Telegram-Bot-Api-Secret-Token", ["t"])],
            "Stripe" => [("Stripe-Signature", ["t=1,v1=" + new string('0', 64), "bad"])],
            "Slack" => [("X-Slack-Signature", ["v0=" + new string('0', 64)]), ("X-Slack-Request-Timestamp", ["1700000000", "abc"])],
            "StandardWebhooks" =>
            [
                ("webhook-id", ["m1"]), ("webhook-timestamp", ["1614265330", "abc"]), ("webhook-signature", ["v1,AAAA"]),
                ("svix-id", ["m1", "m2"]), ("svix-timestamp", ["1614265330"]), ("svix-signature", ["v1,AAAA"]),
            ],
            _ => [("X-Sig", ["sha256=" + new string('0', 64)]), ("X-Ts", ["1700000000", "abc"]), ("X-Id", ["i-1"])],
        };

        var checkedCombinations = 0;
        foreach (var headers in Combinations(candidates, 0, new HeaderDictionary()))
        {
            var full = verifier.Verify(headers, "{}"u8);
            var early = verifier.MissingSignature(headers);
            Assert.True(
                (full.Code == WebhookCodes.SignatureMissing ? full.Reason : null) == early?.Reason,
                $"{scheme} with [{string.Join(", ", headers.Select(h => h.Key + "=" + h.Value))}]: Verify {full.Reason}, MissingSignature {early?.Reason}");
            checkedCombinations++;
        }

        Assert.True(checkedCombinations >= 3);
    }

    private static IEnumerable<HeaderDictionary> Combinations((string Name, string[] Values)[] candidates, int index, HeaderDictionary current)
    {
        if (index == candidates.Length)
        {
            yield return new HeaderDictionary(current.ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase));
            yield break;
        }

        var (name, values) = candidates[index];
        // Absent, each value, and the first value sent twice.
        foreach (var value in values.Select(v => new Microsoft.Extensions.Primitives.StringValues(v)).Prepend(default).Append(new([values[0], values[0]])))
        {
            if (value.Count == 0)
            {
                current.Remove(name);
            }
            else
            {
                current[name] = value;
            }

            foreach (var combination in Combinations(candidates, index + 1, current))
            {
                yield return combination;
            }
        }

        current.Remove(name);
    }

    [Theory]
    [InlineData("abcdef", true)]
    [InlineData("ABCDEF", false)]
    [InlineData("abcde", false)]
    [InlineData("", false)]
    [InlineData("abcdeg", false)]
    public void TryDecodeLowerHex_OnlyLowerCaseEvenLength(string text, bool expected)
    {
        Assert.Equal(expected, SignatureBytes.TryDecodeLowerHex(text, new byte[8], out _));
    }

    [Theory]
    [InlineData("AAAA", true)]
    [InlineData("AAA", false)]
    [InlineData("AA==", true)]
    [InlineData("AA=", false)]
    [InlineData("AA A", false)]
    [InlineData("AB==", false)]
    [InlineData("AAB=", false)]
    public void TryDecodeBase64_TruncatedSpacedOrNonCanonicalRefused(string text, bool expected)
    {
        // "AB==" and "AAB=" set bits the padding leaves unused: they decode to the same bytes as "AA==" and "AAA=".
        Assert.Equal(expected, SignatureBytes.TryDecodeBase64(text, new byte[8], out _));
    }

    [Fact]
    public void Verify_StandardWebhooksV1VectorWithUnusedBitsSet_Invalid()
    {
        // The published signature ends "1OE="; "1OF=" differs only in the two bits the padding leaves unused.
        var verifier = Policy("StandardWebhooks", StandardSecret).Verifier;

        var result = verifier.Verify(StandardHeaders("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="), StandardPayload);

        Assert.False(result.IsValid);
    }

    [Fact]
    public void Verify_GenericTemplateHeaderSentTwice_HeaderRepeated()
    {
        // Before, the two lines were signed as their join "acme,evil" and the delivery was forwarded: a backend reading
        // the first line got "acme", a value the signature never covered on its own.
        var options = new WebhookPolicyOptions
        {
            Scheme = "Generic",
            Secrets = [Secret("in-house-secret-0123")],
            SignatureHeader = "X-Sig",
            SignedContent = "{header:X-Tenant}.{body}",
        };
        var verifier = WebhookPolicy.TryCreate("p", options, new ConfigErrorList())!.Verifier;
        var body = "{\"a\":1}"u8.ToArray();
        var mac = Convert.ToHexStringLower(HMACSHA256.HashData("in-house-secret-0123"u8, [.. "acme,evil."u8, .. body]));
        var headers = new HeaderDictionary { ["X-Sig"] = mac, ["X-Tenant"] = new(["acme", "evil"]) };

        Assert.Equal("signature_invalid:header_repeated", verifier.Verify(headers, body).Reason);
    }

    private static HeaderDictionary StandardHeaders(string signature) =>
        Headers(("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"), ("webhook-signature", signature));

    private static HeaderDictionary Headers(params (string Name, string Value)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers)
        {
            dictionary[name] = value;
        }

        return dictionary;
    }

    private static WebhookPolicy Policy(string scheme, string secret)
    {
        var errors = new ConfigErrorList();
        var policy = WebhookPolicy.TryCreate("p", new WebhookPolicyOptions { Scheme = scheme, Secrets = [Secret(secret)] }, errors);
        Assert.True(policy is not null, string.Join("; ", errors.Items.Select(e => e.Location + ": " + e.Message)));
        return policy;
    }

    private static string Secret(string value)
    {
        var variable = "EDGE_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, value);
        return "env:" + variable;
    }
}
