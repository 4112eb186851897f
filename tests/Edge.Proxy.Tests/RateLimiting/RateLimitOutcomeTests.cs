using Edge.Configuration;
using Edge.Configuration.RateLimiting;
using Edge.Proxy.Pipeline;
using Edge.Proxy.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class RateLimitOutcomeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Apply_FallbackAdmissionThenSharedAdmission_AuditsTheFallback(bool fromLease)
    {
        // Two policies on one route: the first one's node is silent and its Open outage mode admits, the second is
        // answered by Redis (or its lease). The request went through without the first policy's shared count.
        var http = new DefaultHttpContext();
        var open = new RateLimitDecision(true, RateLimitDecisionSource.FallbackOpen, 10, null, null, TimeSpan.Zero) { FallbackReason = RateLimitFallbackReason.NoAnswer };
        var second = fromLease ? RateLimitDecisionSource.Lease : RateLimitDecisionSource.Redis;
        var shared = new RateLimitDecision(true, second, 100, 42, TimeSpan.FromSeconds(3), TimeSpan.Zero);

        Assert.Null(RateLimitOutcome.Apply(http, Policy("burst"), open, TimeProvider.System, oneOfSeveral: true));
        Assert.Null(RateLimitOutcome.Apply(http, Policy("sustained"), shared, TimeProvider.System, oneOfSeveral: true));

        var audited = http.Features.Get<EdgeRateLimitFeature>();
        Assert.NotNull(audited);
        Assert.Equal("redis-unavailable-open", audited.Outcome);
        Assert.Equal("no_answer", audited.FallbackReason);
    }

    [Fact]
    public void Apply_FallbackAdmissionThenRefusal_AuditsTheRefusal()
    {
        var http = new DefaultHttpContext();
        var local = new RateLimitDecision(true, RateLimitDecisionSource.FallbackLocal, 5, 4, TimeSpan.FromSeconds(1), TimeSpan.Zero) { FallbackReason = RateLimitFallbackReason.BreakerOpen };
        var refused = new RateLimitDecision(false, RateLimitDecisionSource.Redis, 100, 0, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(3));

        Assert.Null(RateLimitOutcome.Apply(http, Policy("burst"), local, TimeProvider.System, oneOfSeveral: true));
        var denial = RateLimitOutcome.Apply(http, Policy("sustained"), refused, TimeProvider.System, oneOfSeveral: true);

        Assert.NotNull(denial);
        Assert.Equal(StatusCodes.Status429TooManyRequests, denial.Status);
        var audited = http.Features.Get<EdgeRateLimitFeature>();
        Assert.NotNull(audited);
        Assert.Equal("limited", audited.Outcome);
        Assert.Null(audited.FallbackReason);
    }

    [Fact]
    public void Apply_SharedAdmissionThenFallbackAdmission_AuditsTheFallback()
    {
        var http = new DefaultHttpContext();
        var shared = new RateLimitDecision(true, RateLimitDecisionSource.Redis, 100, 42, TimeSpan.FromSeconds(3), TimeSpan.Zero);
        var open = new RateLimitDecision(true, RateLimitDecisionSource.FallbackOpen, 10, null, null, TimeSpan.Zero) { FallbackReason = RateLimitFallbackReason.Disconnected };

        RateLimitOutcome.Apply(http, Policy("burst"), shared, TimeProvider.System, oneOfSeveral: true);
        RateLimitOutcome.Apply(http, Policy("sustained"), open, TimeProvider.System, oneOfSeveral: true);

        var audited = http.Features.Get<EdgeRateLimitFeature>();
        Assert.NotNull(audited);
        Assert.Equal("redis-unavailable-open", audited.Outcome);
        Assert.Equal("disconnected", audited.FallbackReason);
    }

    private static RateLimitPolicy Policy(string name) =>
        RateLimitPolicy.TryCreate(name, new RateLimitPolicyOptions { Limit = 10, Key = "{tenant}" }, new ConfigErrorList())!;
}
