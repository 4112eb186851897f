using Edge.Configuration.Validation;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.Tests.Validation;

public sealed class ValidateStepValidatorTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(
        ValidationSection.Descriptor,
        new Dictionary<string, ValidationPolicyOptions> { ["orders"] = new() { MaxBodyBytes = 1024 } });

    [Fact]
    public void Validate_KnownPolicy_NoErrors()
    {
        var errors = Validate([], new Dictionary<string, string> { ["EdgeValidate"] = "orders" });

        Assert.Empty(errors.Items);
    }

    [Fact]
    public void Validate_UnknownPolicy_ErrorAtStep()
    {
        var errors = Validate([], new Dictionary<string, string> { ["EdgeValidate"] = "invoices" });

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[0]:EdgeValidate", error.Location);
        Assert.Contains("'invoices' is not defined in Edge:Validation", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownOption_Error()
    {
        var errors = Validate([], new Dictionary<string, string> { ["EdgeValidate"] = "orders", ["Schema"] = "x" });

        Assert.Contains(errors.Errors, e => e.Location.EndsWith(":Schema", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ListedTwice_Error()
    {
        var errors = Validate(["EdgeValidate"], new Dictionary<string, string> { ["EdgeValidate"] = "orders" });

        Assert.Contains(errors.Errors, e => e.Message.Contains("listed twice", StringComparison.Ordinal));
    }

    private static ConfigErrorList Validate(string[] preceding, Dictionary<string, string> values)
    {
        var errors = new ConfigErrorList();
        var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "/x" } };
        new ValidateStepValidator().Validate(new EdgeStepValidationContext(route, 0, preceding, Edge, errors), values);
        return errors;
    }
}
