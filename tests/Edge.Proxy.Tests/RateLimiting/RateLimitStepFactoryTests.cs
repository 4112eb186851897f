using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Edge.Proxy.RateLimiting;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class RateLimitStepFactoryTests
{
    private static readonly EdgeSection Edge = EdgeSection.Empty.With(RateLimitingSection.Descriptor, new Dictionary<string, RateLimitPolicyOptions>
    {
        ["per-user"] = new() { Limit = 100, Key = "{tenant}:{principal}" },
        ["per-sender"] = new() { Limit = 10, Key = "{tenant}:{body:/sender/id}" },
    });

    [Fact]
    public void GetBodyRequirement_OnlyForBodyKeyedPolicies()
    {
        using var services = new RateLimitTestServices();

        Assert.Same(EdgeBodyRequirement.Any, services.StepFactory.GetBodyRequirement(new Dictionary<string, string> { ["EdgeRateLimit"] = "per-sender" }, Edge));
        Assert.Null(services.StepFactory.GetBodyRequirement(new Dictionary<string, string> { ["EdgeRateLimit"] = "per-user" }, Edge));
        Assert.Null(services.StepFactory.GetBodyRequirement(new Dictionary<string, string> { ["EdgeRateLimit"] = "missing" }, Edge));
    }
}
