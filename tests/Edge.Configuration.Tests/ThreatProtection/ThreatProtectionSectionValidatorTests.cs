namespace Edge.Configuration.Tests.ThreatProtection;

/// <summary>Ban rules through the same file validation as <c>edge config validate</c> and a reload.</summary>
public sealed class ThreatProtectionSectionValidatorTests
{
    [Fact]
    public async Task ValidateAsync_OneEventAsStringAndSeveralAsArray_NoErrors()
    {
        var errors = await ValidateAsync("""
            "ip-auth": { "On": "AuthenticationFailed", "Key": "{ip}", "Threshold": 5, "Window": "00:01:00", "BanFor": "00:10:00" },
            "tenant-abuse": { "On": [ "SignatureInvalid", "ReplayDetected", "Forbidden", "ValidationFailed" ], "Key": "{tenant}:{ip}", "Threshold": 20, "Window": "00:05:00", "BanFor": "01:00:00" }
            """);

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Theory]
    [InlineData("\"On\": \"LoginFailed\", \"Threshold\": 5", "Edge:ThreatProtection:Rules:r:On", "unknown event 'LoginFailed'")]
    [InlineData("\"On\": [], \"Threshold\": 5", "Edge:ThreatProtection:Rules:r:On", "name at least one event")]
    [InlineData("\"On\": \"3\", \"Threshold\": 5", "Edge:ThreatProtection:Rules:r:On", "unknown event '3'")]
    [InlineData("\"On\": \"Forbidden\", \"Key\": \"{user}\", \"Threshold\": 5", "Edge:ThreatProtection:Rules:r:Key", "unknown placeholder '{user}'")]
    [InlineData("\"On\": \"Forbidden\", \"Key\": \"{body:/sender}\", \"Threshold\": 5", "Edge:ThreatProtection:Rules:r:Key", "cannot name a ban")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 0", "Edge:ThreatProtection:Rules:r:Threshold", "must be a positive")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"Window\": \"00:00:00\"", "Edge:ThreatProtection:Rules:r:Window", "must be positive")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"BanFor\": \"-00:00:01\"", "Edge:ThreatProtection:Rules:r:BanFor", "must be positive")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"BanFor\": \"3650000.00:00:00\"", "Edge:ThreatProtection:Rules:r:BanFor", "between 00:00:00.001 and 365.00:00:00 (was 3650000.00:00:00)")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"BanFor\": \"366.00:00:00\"", "Edge:ThreatProtection:Rules:r:BanFor", "and 365.00:00:00")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"Window\": \"10675199.00:00:00\"", "Edge:ThreatProtection:Rules:r:Window", "and 365.00:00:00")]
    [InlineData("\"On\": \"Forbidden\", \"Threshold\": 5, \"Window\": \"00:00:00.0005\"", "Edge:ThreatProtection:Rules:r:Window", "must be positive, between")]
    public async Task ValidateAsync_InvalidRule_ReportsLocationAndReason(string body, string location, string message)
    {
        var errors = await ValidateAsync("\"r\": { " + body + " }");

        Assert.Contains(errors, e => !e.IsWarning && e.Location == location && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{tenant}")]
    [InlineData("{route}")]
    [InlineData("{tenant}:{route}")]
    [InlineData("everyone")]
    public async Task ValidateAsync_KeyOfTenantRouteOrLiteralOnly_WarnsThatOneClientBansAll(string key)
    {
        // With {tenant}, three bad tokens sent with X-Tenant-ID: acme (Threshold 3) blocked every client of acme.
        var errors = await ValidateAsync("\"r\": { \"On\": \"AuthenticationFailed\", \"Key\": \"" + key + "\", \"Threshold\": 20 }");

        var warning = Assert.Single(errors);
        Assert.True(warning.IsWarning);
        Assert.Equal("Edge:ThreatProtection:Rules:r:Key", warning.Location);
        Assert.Contains("ban every client", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{tenant}:{ip}")]
    [InlineData("{principal}")]
    [InlineData("{header:X-Api-Key}")]
    public async Task ValidateAsync_KeyBoundToOneClient_NoWarning(string key)
    {
        var errors = await ValidateAsync("\"r\": { \"On\": \"Forbidden\", \"Key\": \"" + key + "\", \"Threshold\": 20 }");

        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("\"AuthenticationFailed\"", "{principal}", "AuthenticationFailed is never counted")]
    [InlineData("\"AuthenticationFailed\"", "{tenant}:{principal}", "AuthenticationFailed is never counted")]
    [InlineData("\"NotFound\"", "{tenant}:{ip}", "NotFound is never counted")]
    [InlineData("\"NotFound\"", "{principal}", "NotFound is never counted")]
    [InlineData("[\"AuthenticationFailed\", \"NotFound\"]", "{principal}", "NotFound is never counted")]
    public async Task ValidateAsync_KeyNeverKnownForAnyOfTheRulesEvents_IsAnError(string on, string key, string message)
    {
        // Accepted before, and the rule never banned anyone: a refused credential names no verified principal, and a
        // request no route takes has no tenant or principal, so the key was never known when the event was counted.
        var errors = await ValidateAsync("\"r\": { \"On\": " + on + ", \"Key\": \"" + key + "\", \"Threshold\": 5 }");

        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal("Edge:ThreatProtection:Rules:r:Key", error.Location);
        Assert.Contains("would never ban anyone", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_KeyNeverKnownForOneOfTheRulesEvents_WarnsNamingIt()
    {
        var errors = await ValidateAsync("\"r\": { \"On\": [\"AuthenticationFailed\", \"Forbidden\"], \"Key\": \"{principal}\", \"Threshold\": 5 }");

        var warning = Assert.Single(errors);
        Assert.True(warning.IsWarning);
        Assert.Equal("Edge:ThreatProtection:Rules:r:Key", warning.Location);
        Assert.Contains("AuthenticationFailed is never counted", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Forbidden", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateAsync_MisspeltOption_IsAnError()
    {
        var errors = await ValidateAsync("\"r\": { \"On\": \"Forbidden\", \"Threshhold\": 5 }");

        Assert.Contains(errors, e => !e.IsWarning && e.Location.StartsWith("Edge:ThreatProtection:Rules:r", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("-5", true)]
    [InlineData("10000001", true)]
    [InlineData("1", false)]
    [InlineData("250000", false)]
    public async Task ValidateAsync_MaxBans_RefusedOutsideOneToTenMillion(string value, bool refused)
    {
        var errors = await ValidateAsync("\"r\": { \"On\": \"Forbidden\", \"Threshold\": 5 }", "\"MaxBans\": " + value + ", ");

        Assert.Equal(refused, errors.Any(e => !e.IsWarning && e.Location == "Edge:ThreatProtection:MaxBans" && e.Message.Contains("between 1 and 10000000", StringComparison.Ordinal)));
        Assert.DoesNotContain(errors, e => !e.IsWarning && e.Location != "Edge:ThreatProtection:MaxBans");
    }

    private static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string rules, string options = "")
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, $$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" } } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": { "ThreatProtection": { {{options}}"Rules": { {{rules}} } } } }
            """);
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
