using System.Diagnostics.Metrics;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Proxy.Tests.Webhooks;

public sealed class WebhookStepFactoryTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(
        WebhooksSection.Descriptor,
        new Dictionary<string, WebhookPolicyOptions> { ["github-main"] = new() { Scheme = "GitHub", Secrets = ["env:X"] } });

    [Fact]
    public void GetBodyRequirement_Policy_CapsAtThePolicysMaxBodyBytes()
    {
        var requirement = Factory().GetBodyRequirement(new Dictionary<string, string> { ["EdgeWebhook"] = "github-main" }, Edge);

        Assert.NotNull(requirement);
        Assert.Equal(WebhookPolicyOptions.DefaultMaxBodyBytes, requirement.MaxBodyBytes);
        Assert.NotNull(requirement.OnRefused);
    }

    private static WebhookStepFactory Factory() =>
        new(new WebhookMetrics(new EdgeMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>())));
}
