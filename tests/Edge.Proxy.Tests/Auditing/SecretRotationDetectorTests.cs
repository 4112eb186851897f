using Edge.Proxy.Auditing;
using Edge.Proxy.Authorization;
using Edge.Proxy.Configuration;
using Edge.Proxy.Webhooks;

namespace Edge.Proxy.Tests.Auditing;

public sealed class SecretRotationDetectorTests : IDisposable
{
    private const string HashA = "aaaaaaaa11111111111111111111111111111111111111111111111111111111";
    private const string HashB = "bbbbbbbb22222222222222222222222222222222222222222222222222222222";
    private const string HashC = "CCCCCCCC33333333333333333333333333333333333333333333333333333333";

    private readonly string _directory = Directory.CreateTempSubdirectory("edge-rotation-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Detect_FirstLoad_ReportsNothing()
    {
        var detector = new SecretRotationDetector();

        var rotations = detector.Detect(null, Section(webhookSecrets: ["env:A"], apiKeys: [HashA]));

        Assert.Empty(rotations);
    }

    [Fact]
    public void Detect_WebhookSecretAddedAndOldOneRemoved_ReportsCountsForThePolicy()
    {
        var detector = new SecretRotationDetector();
        var before = Section(webhookSecrets: ["env:OLD", "env:KEEP"]);
        var after = Section(webhookSecrets: ["env:KEEP", "env:NEW1", "env:NEW2"]);
        detector.Detect(null, before);

        var rotation = Assert.Single(detector.Detect(before, after));

        Assert.Equal(SecretRotationKinds.WebhookSecret, rotation.Kind);
        Assert.Equal("github", rotation.Policy);
        Assert.Equal(2, rotation.Added);
        Assert.Equal(1, rotation.Removed);
        Assert.Equal(0, rotation.ValueChanged);
    }

    [Fact]
    public void Detect_ApiKeyAddedAndRemoved_ReportsCountsAndLowercaseHashPrefixes()
    {
        var detector = new SecretRotationDetector();
        var before = Section(apiKeys: [HashA, HashB]);
        var after = Section(apiKeys: [HashB.ToUpperInvariant(), HashC]);
        detector.Detect(null, before);

        var rotation = Assert.Single(detector.Detect(before, after));

        Assert.Equal(SecretRotationKinds.ApiKey, rotation.Kind);
        Assert.Equal("partners", rotation.Policy);
        Assert.Equal(1, rotation.Added);
        Assert.Equal(1, rotation.Removed);
        Assert.Equal(["cccccccc"], rotation.AddedKeyPrefixes);
        Assert.Equal(["aaaaaaaa"], rotation.RemovedKeyPrefixes);
    }

    [Fact]
    public void Detect_JwtAndIdentitySigningKeyReferencesChanged_ReportsOneRotationEach()
    {
        var detector = new SecretRotationDetector();
        var before = Section(jwtSigningKey: "env:JWT_1", identitySigningKey: null);
        var after = Section(jwtSigningKey: "env:JWT_2", identitySigningKey: "env:IDENTITY_1");
        detector.Detect(null, before);

        var rotations = detector.Detect(before, after);

        Assert.Collection(rotations.OrderBy(r => r.Kind, StringComparer.Ordinal),
            identity =>
            {
                Assert.Equal(SecretRotationKinds.IdentitySigningKey, identity.Kind);
                Assert.Equal("tokens", identity.Policy);
                Assert.Equal((1, 0), (identity.Added, identity.Removed));
            },
            jwt =>
            {
                Assert.Equal(SecretRotationKinds.JwtSigningKey, jwt.Kind);
                Assert.Equal("tokens", jwt.Policy);
                Assert.Equal((1, 1), (jwt.Added, jwt.Removed));
            });
    }

    [Fact]
    public void Detect_FileValueChangedBehindSameReference_ReportsValueChanged()
    {
        var path = Path.Combine(_directory, "webhook-secret");
        File.WriteAllText(path, "first-secret-value-0123456789abcdef\n");
        var detector = new SecretRotationDetector();
        var before = Section(webhookSecrets: ["file:" + path]);
        var after = Section(webhookSecrets: ["file:" + path], maxBodyBytes: 2048);
        detector.Detect(null, before);
        File.WriteAllText(path, "second-secret-value-0123456789abcdef\n");

        var rotation = Assert.Single(detector.Detect(before, after));

        Assert.Equal(SecretRotationKinds.WebhookSecret, rotation.Kind);
        Assert.Equal((0, 0, 1), (rotation.Added, rotation.Removed, rotation.ValueChanged));
        Assert.Empty(detector.Detect(after, after));
    }

    [Fact]
    public void Detect_OnlyNonSecretSettingsChanged_ReportsNothing()
    {
        var path = Path.Combine(_directory, "webhook-secret");
        File.WriteAllText(path, "unchanged-secret-value-0123456789abcdef");
        var detector = new SecretRotationDetector();
        var before = Section(webhookSecrets: ["file:" + path], apiKeys: [HashA], jwtSigningKey: "env:JWT_1");
        var after = Section(webhookSecrets: ["file:" + path], apiKeys: [HashA.ToUpperInvariant()], jwtSigningKey: "env:JWT_1", maxBodyBytes: 4096);
        detector.Detect(null, before);

        Assert.Empty(detector.Detect(before, after));
    }

    [Fact]
    public void Detect_PolicyAddedAndRemoved_ReportsAllItsSecretsAsAddedOrRemoved()
    {
        var detector = new SecretRotationDetector();
        var before = Section(webhookSecrets: ["env:A", "env:B"]);
        var after = EdgeSection.Empty.With(WebhooksSection.Descriptor, new Dictionary<string, WebhookPolicyOptions>
        {
            ["stripe"] = new() { Scheme = "Stripe", Secrets = ["env:S"] },
        });
        detector.Detect(null, before);

        var rotations = detector.Detect(before, after);

        Assert.Collection(rotations,
            removed => Assert.Equal(("github", 0, 2), (removed.Policy, removed.Added, removed.Removed)),
            added => Assert.Equal(("stripe", 1, 0), (added.Policy, added.Added, added.Removed)));
    }

    private static EdgeSection Section(
        IReadOnlyList<string>? webhookSecrets = null,
        IReadOnlyList<string>? apiKeys = null,
        string? jwtSigningKey = null,
        string? identitySigningKey = null,
        long maxBodyBytes = WebhookPolicyOptions.DefaultMaxBodyBytes)
    {
        var webhooks = new Dictionary<string, WebhookPolicyOptions>();
        if (webhookSecrets is not null)
        {
            webhooks["github"] = new WebhookPolicyOptions { Scheme = "GitHub", Secrets = webhookSecrets, MaxBodyBytes = maxBodyBytes };
        }

        var authentication = new Dictionary<string, AuthenticationPolicyOptions>();
        if (apiKeys is not null)
        {
            authentication["partners"] = new AuthenticationPolicyOptions
            {
                Type = "ApiKey",
                Keys = [.. apiKeys.Select(h => new ApiKeyEntry { Sha256 = h, Principal = "partner" })],
            };
        }

        if (jwtSigningKey is not null || identitySigningKey is not null)
        {
            authentication["tokens"] = new AuthenticationPolicyOptions
            {
                Type = "Jwt",
                Issuer = "https://issuer.test",
                SigningKey = jwtSigningKey,
                IdentitySigningKey = identitySigningKey,
            };
        }

        return EdgeSection.Empty.With(WebhooksSection.Descriptor, webhooks).With(AuthorizationSections.Authentication, authentication);
    }
}
