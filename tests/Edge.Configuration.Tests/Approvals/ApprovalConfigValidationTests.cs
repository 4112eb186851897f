using Edge.Configuration.Approvals;

namespace Edge.Configuration.Tests.Approvals;

public sealed class ApprovalConfigValidationTests
{
    private const string Tenant = """{ "EdgeTenant": "Header", "Name": "X-Tenant-ID" }""";
    private const string Auth = """{ "EdgeAuthenticate": "keys" }""";
    private const string Approval = """{ "EdgeApproval": "payments" }""";
    private const string Policy = """{ "ApproverPermission": "payments.approve", "Authentication": "keys" }""";

    public static TheoryData<string, string> InvalidRoutes() => new()
    {
        { $"[{Approval}, {Tenant}, {Auth}]", "ReverseProxy:Routes:r:Transforms[0]:EdgeApproval" },
        { $"[{Tenant}, {Approval}, {Auth}]", "ReverseProxy:Routes:r:Transforms[1]:EdgeApproval" },
        { $"[{Auth}, {Approval}, {Tenant}]", "ReverseProxy:Routes:r:Transforms[1]:EdgeApproval" },
        { $$"""[{{Tenant}}, { "EdgeAuthenticate": "Anonymous" }, {{Approval}}]""", "ReverseProxy:Routes:r:Transforms[2]:EdgeApproval" },
        { $$"""[{{Tenant}}, {{Auth}}, { "EdgeApproval": "missing" }]""", "ReverseProxy:Routes:r:Transforms[2]:EdgeApproval" },
        { $$"""[{{Tenant}}, {{Auth}}, { "EdgeApproval": "payments", "Ttl": "00:01:00" }]""", "ReverseProxy:Routes:r:Transforms[2]:Ttl" },
        { $"[{Tenant}, {Auth}, {Approval}, {Approval}]", "ReverseProxy:Routes:r:Transforms[3]:EdgeApproval" },
        { $$"""[{{Tenant}}, {{Auth}}, {{Approval}}, { "EdgeRateLimit": "per-user" }]""", "ReverseProxy:Routes:r:Transforms[2]:EdgeApproval" },
    };

    public static TheoryData<string, string, string> InvalidPolicies() => new()
    {
        { """{ "Authentication": "keys" }""", "Edge:Approvals:payments:ApproverPermission", "is required" },
        { """{ "ApproverPermission": "payments.aprove", "Authentication": "keys" }""", "Edge:Approvals:payments:ApproverPermission", "unknown permission 'payments.aprove'" },
        { """{ "ApproverPermission": "*", "Authentication": "keys" }""", "Edge:Approvals:payments:ApproverPermission", "is not a permission" },
        { """{ "ApproverPermission": "payments.approve" }""", "Edge:Approvals:payments:Authentication", "is required" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys,corp-sso" }""", "Edge:Approvals:payments:Authentication", "unknown authentication policy 'corp-sso'" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "Anonymous" }""", "Edge:Approvals:payments:Authentication", "'Anonymous' is not allowed" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys,keys-twin" }""", "Edge:Approvals", "'keys-twin' would never sign anyone in" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Ttl": "00:00:00" }""", "Edge:Approvals:payments:Ttl", "must be between" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "X-Edge-Approval" }""", "Edge:Approvals:payments:Header", "identity prefix" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "X_Edge_Approval" }""", "Edge:Approvals:payments:Header", "identity prefix" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "Authorization" }""", "Edge:Approvals:payments:Header", "other credentials" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "X Token" }""", "Edge:Approvals:payments:Header", "is not a header name" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "X-Request-Id" }""", "Edge:Approvals:payments:Header", "'X-Request-Id' is set by the edge" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Header": "X-Forwarded-For" }""", "Edge:Approvals:payments:Header", "'X-Forwarded-For' is a forwarding header the edge" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-Request-Id"] }""", "Edge:Approvals:payments:BindHeaders:0", "'X-Request-Id' is set by the edge" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-HTTP-Method-Override"] }""", "Edge:Approvals:payments:BindHeaders:0", "'X-HTTP-Method-Override' is removed by the edge" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X Account"] }""", "Edge:Approvals:payments:BindHeaders:0", "is not a header name" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-Account", "authorization"] }""", "Edge:Approvals:payments:BindHeaders:1", "cannot be bound" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-Approval-Token"] }""", "Edge:Approvals:payments:BindHeaders:0", "cannot be bound" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["Transfer-Encoding"] }""", "Edge:Approvals:payments:BindHeaders:0", "cannot be bound" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-Edge-Subject"] }""", "Edge:Approvals:payments:BindHeaders:0", "identity prefix" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["x_edge_subject"] }""", "Edge:Approvals:payments:BindHeaders:0", "identity prefix" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "BindHeaders": ["X-Account", "x-account"] }""", "Edge:Approvals:payments:BindHeaders:1", "listed twice" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "ftp://hooks.example/", "Secret": "env:EDGE_APPROVAL_TEST_NOTIFY" } }""", "Edge:Approvals:payments:Notify:Url", "https or http" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "https://hooks.example/", "Secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } }""", "Edge:Approvals:payments:Notify:Secret", "inline secrets" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "https://hooks.example/", "Secret": "env:EDGE_APPROVAL_TEST_UNSET" } }""", "Edge:Approvals:payments:Notify:Secret", "is not set" },
        { """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "https://hooks.example/", "Secret": "env:EDGE_APPROVAL_TEST_NOT_WHSEC" } }""", "Edge:Approvals:payments:Notify:Secret", "whsec_" },
    };

    static ApprovalConfigValidationTests()
    {
        Environment.SetEnvironmentVariable("EDGE_APPROVAL_TEST_NOTIFY", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        Environment.SetEnvironmentVariable("EDGE_APPROVAL_TEST_NOT_WHSEC", "plain-text-secret-that-is-long-enough");
        Environment.SetEnvironmentVariable("EDGE_APPROVAL_TEST_NOTIFY_URL", "https://hooks.example/services/T0/B0/hunter2-path-secret");
        Environment.SetEnvironmentVariable("EDGE_APPROVAL_TEST_NOTIFY_NOT_URL", "hooks.example/services/hunter2-path-secret");
    }

    [Fact]
    public async Task Validate_NotifyUrlAsEnvReference_Accepted()
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "env:EDGE_APPROVAL_TEST_NOTIFY_URL", "Secret": "env:EDGE_APPROVAL_TEST_NOTIFY" } }""");

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("env:EDGE_APPROVAL_TEST_NOTIFY_NOT_URL", "is not an absolute https or http URL")]
    [InlineData("env:EDGE_APPROVAL_TEST_NOTIFY_URL_UNSET", "is not set")]
    public async Task Validate_NotifyUrlReferenceNotUsable_RefusedWithoutItsValue(string reference, string expected)
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", $$"""{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "{{reference}}", "Secret": "env:EDGE_APPROVAL_TEST_NOTIFY" } }""");

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("Edge:Approvals:payments:Notify:Url", error.Location);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidRoutes))]
    public async Task Validate_ApprovalStepMisplacedOrMisnamed_RefusedAtItsLocation(string transforms, string location)
    {
        var errors = await ValidateAsync(transforms, Policy);

        Assert.Contains(errors, e => !e.IsWarning && e.Location == location);
    }

    [Theory]
    [MemberData(nameof(InvalidPolicies))]
    public async Task Validate_BadPolicy_RefusedAtTheField(string policy, string location, string message)
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", policy);

        Assert.Contains(errors, e => !e.IsWarning && e.Location == location && e.Message.Contains(message, StringComparison.Ordinal));
    }

    /// <summary>The error repeated the URL, so a password written into it went to the log, /edge/status and CI output.</summary>
    [Theory]
    [InlineData("https://bot:hunter2-inline@hooks.example/approvals")]
    [InlineData("ftp://bot:hunter2-inline@hooks.example/approvals")]
    public async Task Validate_NotifyUrlWithCredentials_RefusedWithoutThem(string url)
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", $$"""{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Notify": { "Url": "{{url}}", "Secret": "env:EDGE_APPROVAL_TEST_NOTIFY" } }""");

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("Edge:Approvals:payments:Notify:Url", error.Location);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ApprovalAfterTenantAndAuthentication_Accepted()
    {
        var errors = await ValidateAsync(
            $"[{Auth}, {Tenant}, {Approval}]",
            """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "Ttl": "00:05:00", "Header": "X-Approval", "FourEyes": false, "BindHeaders": ["X-Account-Id", "Idempotency-Key"], "Notify": { "Url": "https://hooks.example/approvals", "Secret": "env:EDGE_APPROVAL_TEST_NOTIFY" } }""");

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task Validate_ApproversSignInThroughKeyAndJwt_Accepted()
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", """{ "ApproverPermission": "payments.approve", "Authentication": "keys,sso" }""");

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task Validate_UnknownPolicyOption_Refused()
    {
        var errors = await ValidateAsync($"[{Tenant}, {Auth}, {Approval}]", """{ "ApproverPermission": "payments.approve", "Authentication": "keys", "FourEye": false }""");

        Assert.Contains(errors, e => !e.IsWarning && e.Location.StartsWith("Edge:Approvals:payments", StringComparison.Ordinal));
    }

    internal static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string transforms, string policy)
    {
        var json = $$"""
        {
          "ReverseProxy": {
            "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" }, "Transforms": {{transforms}} } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } }
          },
          "Edge": {
            "Authentication": {
              "keys": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{new string('a', 64)}}", "Principal": "p", "Roles": [ "Approver" ] } ] },
              "keys-twin": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{new string('b', 64)}}", "Principal": "q", "Roles": [ "Approver" ] } ] },
              "sso": { "Type": "Jwt", "Issuer": "https://sso.example", "Audience": "edge", "JwksUrl": "https://sso.example/jwks" }
            },
            "Roles": { "Approver": [ "payments.approve" ] },
            "Approvals": { "payments": {{policy}} }
          }
        }
        """;
        var path = Path.Combine(Path.GetTempPath(), "edge-approvals-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(path, json);
        try
        {
            return await ProxyConfigFileValidator.ValidateAsync(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
