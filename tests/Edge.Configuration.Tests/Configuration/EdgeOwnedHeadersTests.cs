namespace Edge.Configuration.Tests.Configuration;

/// <summary>
/// Header names the edge removes from a client's request, or writes itself, before the steps run (or for the backend):
/// a step told to read one reads nothing (every request refused), the edge's own value (<c>X-Request-Id</c>, new for
/// every request: one tenant or one rate-limit bucket per request), or a value the backend never sees. Each is a config
/// error at the setting that names it.
/// </summary>
public sealed class EdgeOwnedHeadersTests
{
    public static TheoryData<string> OwnedNames() =>
    [
        "X-Request-Id", "x_request_id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix",
        "Forwarded", "X-Real-IP", "True-Client-IP", "X-HTTP-Method-Override", "X-Original-URL", "traceparent",
    ];

    [Theory]
    [MemberData(nameof(OwnedNames))]
    public async Task ValidateAsync_TenantHeaderTheEdgeOwns_ErrorAtItsName(string name)
    {
        var errors = await ValidateAsync($$"""[ { "EdgeTenant": "Header", "Name": "{{name}}" } ]""", "");

        AssertSingleError(errors, "ReverseProxy:Routes:r1:Transforms[0]:Name", name);
    }

    [Theory]
    [MemberData(nameof(OwnedNames))]
    public async Task ValidateAsync_ApiKeyHeaderTheEdgeOwns_ErrorAtItsName(string name)
    {
        var errors = await ValidateAsync("""[ { "EdgeAuthenticate": "keys" } ]""", $$"""
            "Authentication": { "keys": { "Type": "ApiKey", "Header": "{{name}}", "Keys": [ { "Sha256": "{{new string('a', 64)}}", "Principal": "p" } ] } }
            """);

        AssertSingleError(errors, "Edge:Authentication:keys:Header", name);
    }

    [Theory]
    [MemberData(nameof(OwnedNames))]
    public async Task ValidateAsync_RateLimitKeyHeaderTheEdgeOwns_ErrorAtTheKey(string name)
    {
        var errors = await ValidateAsync("""[ { "EdgeRateLimit": "p" } ]""", $$"""
            "RateLimits": { "p": { "Limit": 10, "Window": "00:01:00", "Key": "{header:{{name}}}" } }
            """);

        AssertSingleError(errors, "Edge:RateLimits:p:Key", name);
    }

    [Theory]
    [MemberData(nameof(OwnedNames))]
    public async Task ValidateAsync_WebhookIdHeaderTheEdgeOwns_ErrorAtItsName(string name)
    {
        Environment.SetEnvironmentVariable("EDGE_OWNED_HEADERS_TEST_SECRET", "a-webhook-secret-of-thirty-two-bytes!");
        var errors = await ValidateAsync("""[ { "EdgeWebhook": "w" } ]""", $$"""
            "Webhooks": { "w": { "Scheme": "Generic", "Secrets": [ "env:EDGE_OWNED_HEADERS_TEST_SECRET" ], "SignatureHeader": "X-Sig",
                                 "SignedContent": "{id}.{body}", "IdHeader": "{{name}}" } }
            """);

        AssertSingleError(errors, "Edge:Webhooks:w:IdHeader", name);
    }

    [Theory]
    [InlineData("X-Tenant-ID")]
    [InlineData("X-Api-Key")]
    [InlineData("X-Forwarded")]
    public async Task ValidateAsync_HeaderTheEdgeLeavesAlone_NotRefusedAsOwned(string name)
    {
        var errors = await ValidateAsync($$"""[ { "EdgeTenant": "Header", "Name": "{{name}}" } ]""", "");

        // X-Forwarded (without a suffix) is a forwarding name a backend reads: it is owned; the others are not.
        if (name == "X-Forwarded")
        {
            AssertSingleError(errors, "ReverseProxy:Routes:r1:Transforms[0]:Name", name);
        }
        else
        {
            Assert.Empty(errors);
        }
    }

    private static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string transforms, string edge)
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, $$"""
            { "ReverseProxy": {
                "Routes": { "r1": { "ClusterId": "c", "Match": { "Path": "/x" }, "Transforms": {{transforms}} } },
                "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:1/" } } } } },
              "Edge": { {{edge}} } }
            """);
        try
        {
            return await ProxyConfigFileValidator.ValidateAsync(path, identityHeaderPrefix: null);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertSingleError(IReadOnlyList<ConfigError> errors, string location, string name)
    {
        var error = Assert.Single(errors, e => !e.IsWarning);
        Assert.Equal(location, error.Location);
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("the edge", error.Message, StringComparison.Ordinal);
    }
}
