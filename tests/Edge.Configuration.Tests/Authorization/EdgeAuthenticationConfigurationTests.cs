using Edge.Configuration.Authorization;
using Edge.Configuration;
using Microsoft.AspNetCore.Http;

namespace Edge.Configuration.Tests.Authorization;

public sealed class EdgeAuthenticationConfigurationTests
{
    // The values config/.env.example documents for the demo; set here so the test does not depend on the shell.
    private const string HsKeyVariable = "EDGE_JWT_HS256_KEY";
    private const string IdentityKeyVariable = "EDGE_IDENTITY_HMAC_KEY";

    static EdgeAuthenticationConfigurationTests()
    {
        Environment.SetEnvironmentVariable(HsKeyVariable, Environment.GetEnvironmentVariable(HsKeyVariable) ?? "demo-hs256-key-change-me-0123456789abcdef");
        Environment.SetEnvironmentVariable(IdentityKeyVariable, Environment.GetEnvironmentVariable(IdentityKeyVariable) ?? "demo-identity-hmac-key-change-me-0123456789");
    }

    [Fact]
    public async Task CreateValidator_ShippedProxyJsonDemoKeys_AuthenticatesDemoKey()
    {
        var validator = EdgeAuthenticationConfiguration.CreateValidator(Path.Combine(TestPaths.RepositoryRoot(), "proxy.json"), "demo-keys");
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Api-Key"] = "demo-partner-key-acme-0001";

        var result = await validator.AuthenticateAsync(context.Request);

        Assert.True(result.Succeeded);
        Assert.Equal("partner-a", result.Identity.Principal);
        Assert.Equal("acme", result.Identity.Tenant);
        Assert.True(result.Identity.Permissions.Has("orders.write"));
    }

    [Fact]
    public void CreateValidator_UnknownPolicy_ThrowsNamingIt()
    {
        var error = Assert.Throws<EdgeConfigException>(() =>
            EdgeAuthenticationConfiguration.CreateValidator(Path.Combine(TestPaths.RepositoryRoot(), "proxy.json"), "nope"));

        Assert.Contains(error.Errors, e => e.Location == "Edge:Authentication:nope");
    }

    [Theory]
    [InlineData("""{ "ReverseProxy": {}, "Edge": { "Authentication": { "keys": null } } }""", "Edge:Authentication:keys")]
    [InlineData("""{ "ReverseProxy": {}, "Edge": { "Authentication": { "keys": { "Type": "ApiKey", "Keys": [ null ] } } } }""", "Edge:Authentication:keys:Keys[0]")]
    [InlineData("""{ "ReverseProxy": {}, "Edge": { "Roles": { "Viewer": null } } }""", "Edge:Roles:Viewer")]
    public void Load_NullEntry_ThrowsConfigErrorNamingIt(string json, string location)
    {
        // Before: NullReferenceException, which the audit writer's read API does not catch as a refused edit (it keeps
        // the last good credentials only on EdgeConfigException), so each call failed until the file was fixed.
        var path = Path.GetTempFileName();
        File.WriteAllText(path, json);
        try
        {
            var error = Assert.Throws<EdgeConfigException>(() => EdgeAuthenticationConfiguration.Load(path));

            Assert.Contains(error.Errors, e => e.Location == location);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_PathIsADirectory_SaysSo()
    {
        var directory = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var error = Assert.Throws<EdgeConfigException>(() => EdgeAuthenticationConfiguration.Load(directory));

            Assert.Contains(error.Errors, e => e.Message == $"the file '{directory}' is a directory, not a file");
        }
        finally
        {
            Directory.Delete(directory);
        }
    }
}
