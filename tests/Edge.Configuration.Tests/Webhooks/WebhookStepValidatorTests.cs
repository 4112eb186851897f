using Edge.Configuration.Webhooks;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration.Tests.Webhooks;

public sealed class WebhookStepValidatorTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(
        WebhooksSection.Descriptor,
        new Dictionary<string, WebhookPolicyOptions> { ["github-main"] = new() { Scheme = "GitHub", Secrets = ["env:X"] } });

    [Fact]
    public void Validate_KnownPolicy_NoErrors()
    {
        var errors = Validate(new Dictionary<string, string> { ["EdgeWebhook"] = "github-main" });

        Assert.Empty(errors.Items);
    }

    [Fact]
    public void Validate_UnknownPolicy_ErrorAtStep()
    {
        var errors = Validate(new Dictionary<string, string> { ["EdgeWebhook"] = "gitlab" });

        var error = Assert.Single(errors.Errors);
        Assert.Equal("ReverseProxy:Routes:r:Transforms[0]:EdgeWebhook", error.Location);
        Assert.Contains("gitlab", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownOption_Error()
    {
        var errors = Validate(new Dictionary<string, string> { ["EdgeWebhook"] = "github-main", ["Secret"] = "x" });

        Assert.Contains(errors.Errors, e => e.Location.EndsWith(":Secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ListedTwice_Error()
    {
        var errors = Validate(new Dictionary<string, string> { ["EdgeWebhook"] = "github-main" }, ["EdgeWebhook"]);

        Assert.Single(errors.Errors);
    }

    private static ConfigErrorList Validate(Dictionary<string, string> values, string[]? preceding = null)
    {
        var errors = new ConfigErrorList();
        var route = new RouteConfig { RouteId = "r", ClusterId = "c", Match = new RouteMatch { Path = "/hooks" }, Transforms = [values] };
        new WebhookStepValidator().Validate(new EdgeStepValidationContext(route, 0, preceding ?? [], Edge, errors), values);
        return errors;
    }
}
