using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tests.Pipeline;

public sealed class EdgeRateLimitFeatureTests
{
    [Theory]
    [InlineData("allowed")]
    [InlineData("limited")]
    public void For_HealthyOutcome_SharedInstanceWithThatOutcome(string outcome)
    {
        var feature = EdgeRateLimitFeature.For(outcome, null);

        Assert.Same(feature, EdgeRateLimitFeature.For(outcome, null));
        Assert.Equal(new EdgeRateLimitFeature(outcome), feature);
    }

    [Theory]
    [InlineData("redis-unavailable-local-allowed", "breaker_open")]
    [InlineData("redis-unavailable-open", "disconnected")]
    [InlineData("allowed", "no_answer")]
    public void For_FallbackOutcome_CarriesOutcomeAndReason(string outcome, string reason)
    {
        var feature = EdgeRateLimitFeature.For(outcome, reason);

        Assert.Equal(outcome, feature.Outcome);
        Assert.Equal(reason, feature.FallbackReason);
    }
}
