using Edge.Configuration.RateLimiting;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.Tests.RateLimiting;

public sealed class RateLimitStepValidatorTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(RateLimitingSection.Descriptor, new Dictionary<string, RateLimitPolicyOptions>
    {
        ["per-user"] = new() { Limit = 100, Key = "{tenant}:{principal}" },
        ["per-sender"] = new() { Limit = 10, Key = "{tenant}:{body:/sender/id}" },
        ["per-tenant"] = new() { Limit = 10, Key = "{tenant}" },
        ["per-ip"] = new() { Limit = 10, Key = "{ip}" },
    });

    [Fact]
    public void Validate_UnknownPolicy_ErrorNamesPolicyAndDefinedOnes()
    {
        var errors = Validate(new() { ["EdgeRateLimit"] = "nope" }, ["EdgeTenant"]);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[1]:EdgeRateLimit", error.Location);
        Assert.Equal("rate-limit policy 'nope' is not defined in Edge:RateLimits; defined: per-ip, per-sender, per-tenant, per-user", error.Message);
    }

    [Fact]
    public void Validate_UnknownOption_Error()
    {
        var errors = Validate(new() { ["EdgeRateLimit"] = "per-user", ["Limit"] = "5" }, ["EdgeTenant", "EdgeAuthenticate"]);

        Assert.Contains(errors.Errors, e => e.Location.EndsWith(":Limit", StringComparison.Ordinal) && e.Message.StartsWith("unknown option 'Limit'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_BodyKeyWithoutWebhookBefore_Warns()
    {
        var errors = Validate(new() { ["EdgeRateLimit"] = "per-sender" }, ["EdgeTenant"]);

        Assert.False(errors.HasErrors);
        Assert.Contains("unverified body", Assert.Single(errors.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BodyKeyAfterWebhook_NoWarning()
    {
        var errors = Validate(new() { ["EdgeRateLimit"] = "per-sender" }, ["EdgeTenant", "EdgeWebhook"]);

        Assert.Empty(errors.Items);
    }

    [Fact]
    public void Validate_TenantKeyWithEdgeTenantListedAfter_ErrorSaysToListItFirst()
    {
        var rateLimit = new Dictionary<string, string> { ["EdgeRateLimit"] = "per-tenant" };
        var transforms = new[] { rateLimit, new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" } };

        var errors = ValidateOnRoute(transforms, 0, []);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[0]:EdgeRateLimit", error.Location);
        Assert.Equal("policy 'per-tenant' keys on {tenant} but the route's EdgeTenant step is listed after it: every tenant would share one bucket; " +
            "list EdgeTenant before EdgeRateLimit", error.Message);
    }

    [Fact]
    public void Validate_TenantKeyWithoutEdgeTenantOnRoute_Warns()
    {
        var transforms = new[] { new Dictionary<string, string> { ["EdgeRateLimit"] = "per-tenant" } };

        var errors = ValidateOnRoute(transforms, 0, []);

        Assert.False(errors.HasErrors);
        Assert.Equal("policy 'per-tenant' keys on {tenant} but the route has no EdgeTenant step: every caller shares one bucket", Assert.Single(errors.Warnings).Message);
    }

    [Fact]
    public void Validate_TenantKeyAfterEdgeTenant_NoErrorOrWarning()
    {
        var transforms = new[] { new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" }, new Dictionary<string, string> { ["EdgeRateLimit"] = "per-tenant" } };

        var errors = ValidateOnRoute(transforms, 1, ["EdgeTenant"]);

        Assert.Empty(errors.Items);
    }

    [Fact]
    public void Validate_IpKeyWithEdgeTenantListedAfter_WarnsThatTenantsShareTheBucket()
    {
        var transforms = new[] { new Dictionary<string, string> { ["EdgeRateLimit"] = "per-ip" }, new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" } };

        var errors = ValidateOnRoute(transforms, 0, []);

        // The partition's tenant part is ~none for every request: the doc said tenants never share a bucket.
        Assert.False(errors.HasErrors);
        var warning = Assert.Single(errors.Warnings);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[0]:EdgeRateLimit", warning.Location);
        Assert.Equal("policy 'per-ip' runs before the route's EdgeTenant step, so the tenant is not part of its partitions: every tenant shares " +
            "each {ip} bucket; list EdgeTenant before EdgeRateLimit to limit each tenant separately, or use the route's RateLimiterPolicy for a limit " +
            "meant to apply before the tenant is known", warning.Message);
    }

    [Fact]
    public void Validate_IpKeyOnRouteWithoutEdgeTenant_NoErrorOrWarning()
    {
        var transforms = new[] { new Dictionary<string, string> { ["EdgeRateLimit"] = "per-ip" } };

        var errors = ValidateOnRoute(transforms, 0, []);

        Assert.Empty(errors.Items);
    }

    [Theory]
    [InlineData("per-tenant")]
    [InlineData("per-ip")]
    public void Validate_EdgeTenantBeforeAndAfter_ErrorSaysTheTenantWouldChangeAfterLimiting(string policy)
    {
        // Static default, then a request may name another tenant: the step limited every request as acme while the one
        // naming globex was forwarded, audited and bound as globex, which no bucket of its own ever limited.
        var transforms = new[]
        {
            new Dictionary<string, string> { ["EdgeTenant"] = "Static", ["Value"] = "acme" },
            new Dictionary<string, string> { ["EdgeRateLimit"] = policy },
            new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID", ["Required"] = "false" },
        };

        var errors = ValidateOnRoute(transforms, 1, ["EdgeTenant"]);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[1]:EdgeRateLimit", error.Location);
        Assert.Equal($"an EdgeTenant step listed after it can replace the tenant policy '{policy}' limited this request by (the tenant is part of " +
            "every partition), so a request would be limited as one tenant and served as another; list every EdgeTenant step before EdgeRateLimit", error.Message);
    }

    private static ConfigErrorList Validate(Dictionary<string, string> values, string[] preceding)
    {
        var errors = new ConfigErrorList();
        var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "/x" } };
        new RateLimitStepValidator().Validate(new EdgeStepValidationContext(route, 1, preceding, Edge, errors), values);
        return errors;
    }

    private static ConfigErrorList ValidateOnRoute(Dictionary<string, string>[] transforms, int index, string[] preceding)
    {
        var errors = new ConfigErrorList();
        var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "/x" }, Transforms = transforms };
        new RateLimitStepValidator().Validate(new EdgeStepValidationContext(route, index, preceding, Edge, errors), transforms[index]);
        return errors;
    }
}
