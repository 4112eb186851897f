using Edge.Configuration.Webhooks;

namespace Edge.Configuration.Tests.Webhooks;

public sealed class WebhookPolicyTests
{
    private static readonly string SecretVariable = "EDGE_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");

    static WebhookPolicyTests() => Environment.SetEnvironmentVariable(SecretVariable, "a-secret-value-never-shown");

    [Fact]
    public void TryCreate_ValidGitHubPolicy_Created()
    {
        var policy = Create(new WebhookPolicyOptions { Scheme = "GitHub", Secrets = ["env:" + SecretVariable] }, out var errors);

        Assert.NotNull(policy);
        Assert.Empty(errors.Items);
        Assert.Equal(TimeSpan.FromHours(24), policy.ReplayTtl);
    }

    [Fact]
    public void TryCreate_TimestampedScheme_ReplayTtlLongerThanWindow()
    {
        var policy = Create(new WebhookPolicyOptions { Scheme = "Slack", Secrets = ["env:" + SecretVariable] }, out _);

        Assert.NotNull(policy);
        Assert.True(policy.ReplayTtl > 2 * policy.Options.Tolerance);
    }

    [Fact]
    public void TryCreate_MissingEnvironmentSecret_ErrorAtSecretIndexWithoutValue()
    {
        var policy = Create(new WebhookPolicyOptions { Scheme = "GitHub", Secrets = ["env:" + SecretVariable, "env:EDGE_TEST_WEBHOOK_UNSET_VARIABLE"] }, out var errors);

        Assert.Null(policy);
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Webhooks:p:Secrets[1]", error.Location);
        Assert.DoesNotContain("a-secret-value-never-shown", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryCreate_InlineSecret_Error()
    {
        Assert.Null(Create(new WebhookPolicyOptions { Scheme = "GitHub", Secrets = ["hunter2"] }, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:Secrets[0]" && e.Message.Contains("inline", StringComparison.Ordinal));
        Assert.DoesNotContain(errors.Errors, e => e.Message.Contains("hunter2", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Scheme", "Bitbucket")]
    [InlineData("MaxBodyBytes", "26214401")]
    [InlineData("MaxBodyBytes", "0")]
    [InlineData("Tolerance", "0")]
    [InlineData("ReplayTtl", "600")]
    [InlineData("ReplayStatus", "99")]
    [InlineData("DeliveryIdPointer", "id")]
    [InlineData("OnRedisUnavailable", "Open")]
    [InlineData("SignatureHeader", "X-Sig")]
    public void TryCreate_BadOption_ErrorNamesField(string field, string value)
    {
        var options = new WebhookPolicyOptions { Scheme = "Stripe", Secrets = ["env:" + SecretVariable] };
        options = field switch
        {
            "Scheme" => options with { Scheme = value },
            "MaxBodyBytes" => options with { MaxBodyBytes = long.Parse(value) },
            "Tolerance" => options with { Tolerance = TimeSpan.FromSeconds(int.Parse(value)) },
            "ReplayTtl" => options with { ReplayTtl = TimeSpan.FromSeconds(int.Parse(value)) },
            "ReplayStatus" => options with { ReplayStatus = int.Parse(value) },
            "DeliveryIdPointer" => options with { DeliveryIdPointer = value },
            "OnRedisUnavailable" => options with { OnRedisUnavailable = value },
            _ => options with { SignatureHeader = value },
        };

        Assert.Null(Create(options, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:" + field);
    }

    [Theory]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    [InlineData("whsec_not base64!")]
    [InlineData("whpk_AAAA")]
    [InlineData("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    public void TryCreate_StandardWebhooksKeyWithoutValidPrefixOrEncoding_Error(string secret)
    {
        var variable = "EDGE_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, secret);

        Assert.Null(Create(new WebhookPolicyOptions { Scheme = "StandardWebhooks", Secrets = ["env:" + variable] }, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:Secrets[0]");
    }

    [Theory]
    [InlineData("GitHub", "7", false)]
    [InlineData("GitHub", "fifteen-bytes-0", false)]
    [InlineData("GitHub", "sixteen-bytes-01", true)]
    [InlineData("Meta", "7", false)]
    [InlineData("Slack", "7", false)]
    [InlineData("Stripe", "whsec_7", false)]
    [InlineData("Telegram", "7", false)]
    [InlineData("Telegram", "sixteen-bytes-01", true)]
    [InlineData("Generic", "7", false)]
    public void TryCreate_SecretShorterThanSixteenBytes_ErrorAtItsIndexWithoutValue(string scheme, string secret, bool valid)
    {
        // One captured delivery (or the backend's log of its signature header) lets anyone try every 1-byte key offline;
        // a short Telegram token is guessed online.
        var variable = "EDGE_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, secret);
        var options = new WebhookPolicyOptions
        {
            Scheme = scheme,
            Secrets = ["env:" + SecretVariable, "env:" + variable],
            SignatureHeader = scheme == "Generic" ? "X-Sig" : null,
        };

        var policy = Create(options, out var errors);

        Assert.Equal(valid, policy is not null);
        if (!valid)
        {
            var error = Assert.Single(errors.Errors);
            Assert.Equal("Edge:Webhooks:p:Secrets[1]", error.Location);
            Assert.DoesNotContain(secret, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TryCreate_TelegramTokenWithForbiddenCharacters_Error()
    {
        var variable = "EDGE_TEST_WEBHOOK_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "token with spaces");

        Assert.Null(Create(new WebhookPolicyOptions { Scheme = "Telegram", Secrets = ["env:" + variable] }, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:Secrets[0]");
    }

    [Theory]
    [InlineData(null, "{body}", "SignatureHeader")]
    [InlineData("X-Sig", "{id}.{body}", "SignedContent")]
    [InlineData("X-Sig", "{timestamp}.{body}", "SignedContent")]
    [InlineData("X-Sig", "{body}{body}", "SignedContent")]
    [InlineData("X-Sig", "{nonce}.{body}", "SignedContent")]
    [InlineData("X-Sig", "{id.{body}", "SignedContent")]
    [InlineData("X-Sig", "{header:X Tenant}.{body}", "SignedContent")]
    public void TryCreate_GenericIncomplete_ErrorNamesField(string? header, string template, string field)
    {
        var options = new WebhookPolicyOptions { Scheme = "Generic", Secrets = ["env:" + SecretVariable], SignatureHeader = header, SignedContent = template };

        Assert.Null(Create(options, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:" + field);
    }

    [Theory]
    [InlineData("X Sig", null, null, "SignatureHeader")]
    [InlineData("X-Sig", "X-Ts:", null, "TimestampHeader")]
    [InlineData("X-Sig", null, "X Id", "IdHeader")]
    public void TryCreate_GenericHeaderNameNoRequestCanCarry_ErrorNamesField(string signature, string? timestamp, string? id, string field)
    {
        var options = new WebhookPolicyOptions
        {
            Scheme = "Generic", Secrets = ["env:" + SecretVariable], SignatureHeader = signature, TimestampHeader = timestamp, IdHeader = id,
            SignedContent = "{body}",
        };

        Assert.Null(Create(options, out var errors));
        var error = Assert.Single(errors.Errors);
        Assert.Equal("Edge:Webhooks:p:" + field, error.Location);
        Assert.Contains("is not a header name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryCreate_GenericWithHeaderPlaceholders_Created()
    {
        var options = new WebhookPolicyOptions
        {
            Scheme = "Generic",
            Secrets = ["env:" + SecretVariable],
            SignatureHeader = "X-Sig",
            SignedContent = "{id}.{timestamp}.{header:X-Tenant}.{body}",
            TimestampHeader = "X-Ts",
            IdHeader = "X-Id",
            Algorithm = "HmacSha512",
            Encoding = "Base64",
        };

        Assert.NotNull(Create(options, out var errors));
        Assert.Empty(errors.Items);
    }

    [Fact]
    public void TryCreate_NoSecrets_Error()
    {
        Assert.Null(Create(new WebhookPolicyOptions { Scheme = "GitHub" }, out var errors));
        Assert.Contains(errors.Errors, e => e.Location == "Edge:Webhooks:p:Secrets");
    }

    private static WebhookPolicy? Create(WebhookPolicyOptions options, out ConfigErrorList errors)
    {
        errors = new ConfigErrorList();
        return WebhookPolicy.TryCreate("p", options, errors);
    }
}
