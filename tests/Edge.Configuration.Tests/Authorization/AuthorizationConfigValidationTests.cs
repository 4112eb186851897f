namespace Edge.Configuration.Tests.Authorization;

public sealed class AuthorizationConfigValidationTests
{
    public static TheoryData<string, string> InvalidRoutes() => new()
    {
        { """[{ "EdgeRequire": "orders.read" }]""", "Transforms[0]:EdgeRequire" },
        { """[{ "EdgeAuthenticate": "Anonymous" }, { "EdgeRequire": "orders.read" }]""", "Transforms[1]:EdgeRequire" },
        { """[{ "EdgeAuthenticate": "Anonymous" }, { "EdgeRequireClaim": "maturity", "NotIn": "STUDENT" }]""", "Transforms[1]:EdgeRequireClaim" },
        { """[{ "EdgeAuthenticate": "missing" }]""", "Transforms[0]:EdgeAuthenticate" },
        { """[{ "EdgeAuthenticate": "keys,Anonymous" }]""", "Transforms[0]:EdgeAuthenticate" },
        { """[{ "EdgeAuthenticate": "keys", "Forward": "true" }]""", "Transforms[0]:Forward" },
        { """[{ "EdgeAuthenticate": "keys", "SignIdentity": "true" }]""", "Transforms[0]:SignIdentity" },
        { """[{ "EdgeAuthenticate": "keys" }, { "EdgeAuthenticate": "keys" }]""", "Transforms[1]:EdgeAuthenticate" },
        { """[{ "EdgeAuthenticate": "keys" }, { "EdgeRequire": "orders.read", "Mode": "Some" }]""", "Transforms[1]:Mode" },
        { """[{ "EdgeAuthenticate": "keys" }, { "EdgeRequire": "orders read" }]""", "Transforms[1]:EdgeRequire" },
        { """[{ "EdgeAuthenticate": "keys" }, { "EdgeRequireClaim": "maturity", "In": "A", "NotIn": "B" }]""", "Transforms[1]:In" },
        { """[{ "EdgeAuthenticate": "keys" }, { "EdgeRequireClaim": "maturity" }]""", "Transforms[1]:In" },
        // Both read Authorization (or the same key header, whatever its case): the second would never be tried.
        { """[{ "EdgeAuthenticate": "jwt-a,jwt-b" }]""", "Transforms[0]:EdgeAuthenticate" },
        { """[{ "EdgeAuthenticate": "keys,jwt-a,same-header-keys" }]""", "Transforms[0]:EdgeAuthenticate" },
    };

    [Theory]
    [MemberData(nameof(InvalidRoutes))]
    public async Task Validate_InvalidAuthorizationSteps_RefusedAtTheirLocation(string transforms, string location)
    {
        var errors = await ValidateAsync(transforms, """{ "Viewer": [ "orders.read" ] }""");

        Assert.Contains(errors, e => !e.IsWarning && e.Location == "ReverseProxy:Routes:r:" + location);
    }

    [Fact]
    public async Task Validate_PoliciesOnDistinctCredentialHeaders_Accepted()
    {
        var errors = await ValidateAsync("""[{ "EdgeAuthenticate": "jwt-a,keys,other-keys" }]""", """{ "Viewer": [ "orders.read" ] }""");

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    [Fact]
    public async Task Validate_InvalidRolePermission_RefusedAtRole()
    {
        var errors = await ValidateAsync("""[{ "EdgeAuthenticate": "keys" }]""", """{ "Viewer": [ "orders read" ] }""");

        Assert.Contains(errors, e => !e.IsWarning && e.Location == "Edge:Roles:Viewer");
    }

    [Fact]
    public async Task Validate_SeedLikeRoute_Accepted()
    {
        var errors = await ValidateAsync(
            """[{ "EdgeTenant": "Header", "Name": "X-Tenant-ID" }, { "EdgeAuthenticate": "keys" }, { "EdgeRequire": "orders.read,orders.write", "Mode": "All" }, { "EdgeRequireClaim": "maturity", "NotIn": "STUDENT" }]""",
            """{ "Viewer": [ "orders.read" ], "Agent": [ "orders.read", "orders.write" ] }""");

        Assert.DoesNotContain(errors, e => !e.IsWarning);
    }

    private static async Task<IReadOnlyList<ConfigError>> ValidateAsync(string transforms, string roles)
    {
        var json = $$"""
        {
          "ReverseProxy": {
            "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" }, "Transforms": {{transforms}} } },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9/" } } } }
          },
          "Edge": {
            "Authentication": {
              "keys": { "Type": "ApiKey", "Keys": [ { "Sha256": "{{new string('a', 64)}}", "Principal": "p", "Roles": [ "Viewer" ] } ] },
              "same-header-keys": { "Type": "ApiKey", "Header": "x-api-key", "Keys": [ { "Sha256": "{{new string('b', 64)}}", "Principal": "q" } ] },
              "other-keys": { "Type": "ApiKey", "Header": "X-Other-Key", "Keys": [ { "Sha256": "{{new string('c', 64)}}", "Principal": "r" } ] },
              "jwt-a": { "Type": "Jwt", "Issuer": "https://a.example", "Audience": "edge", "JwksUrl": "https://a.example/jwks" },
              "jwt-b": { "Type": "Jwt", "Issuer": "https://b.example", "Audience": "edge", "JwksUrl": "https://b.example/jwks" }
            },
            "Roles": {{roles}}
          }
        }
        """;
        var path = Path.Combine(Path.GetTempPath(), "edge-auth-" + Guid.NewGuid().ToString("N") + ".json");
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
