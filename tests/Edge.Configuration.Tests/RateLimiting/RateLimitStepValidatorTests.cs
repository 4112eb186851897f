using Edge.Configuration.RateLimiting;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.Tests.RateLimiting;

public sealed class RateLimitStepValidatorTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(RateLimitingSection.Descriptor, new Dictionary<string, RateLimitPolicyOptions>
    {
        ["per-user"] = new() { Limit = 100, Key = "{tenant}:{principal}" },
        ["per-sender"] = new() { Limit = 10, Key = "{tenant}:{body:/sender/id}" },
    });

    [Fact]
    public void Validate_UnknownPolicy_ErrorNamesPolicyAndDefinedOnes()
    {
        var errors = Validate(new() { ["EdgeRateLimit"] = "nope" }, ["EdgeTenant"]);

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[1]:EdgeRateLimit", error.Location);
        Assert.Equal("rate-limit policy 'nope' is not defined in Edge:RateLimits; defined: per-sender, per-user", error.Message);
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

    private static ConfigErrorList Validate(Dictionary<string, string> values, string[] preceding)
    {
        var errors = new ConfigErrorList();
        var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "/x" } };
        new RateLimitStepValidator().Validate(new EdgeStepValidationContext(route, 1, preceding, Edge, errors), values);
        return errors;
    }
}
