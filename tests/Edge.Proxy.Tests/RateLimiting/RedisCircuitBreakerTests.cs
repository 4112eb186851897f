using Edge.Proxy.RateLimiting;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class RedisCircuitBreakerTests
{
    [Fact]
    public void OnFailure_ThresholdReachedWithinSpan_StaysClosed()
    {
        var breaker = new RedisCircuitBreaker(3, TimeSpan.FromSeconds(1), minFailureSpan: TimeSpan.FromHours(1));

        for (var i = 0; i < 10; i++)
        {
            breaker.OnFailure(isProbe: false);
        }

        Assert.False(breaker.IsOpen);
        Assert.True(breaker.TryEnter(out _));
    }

    [Fact]
    public void OnFailure_ThresholdReached_OpensAndShortCircuits()
    {
        var breaker = new RedisCircuitBreaker(3, TimeSpan.FromHours(1), TimeSpan.Zero);

        breaker.OnFailure(false);
        breaker.OnFailure(false);
        Assert.False(breaker.IsOpen);
        Assert.True(breaker.OnFailure(false));

        Assert.True(breaker.IsShortCircuiting);
        Assert.False(breaker.TryEnter(out _));
        Assert.True(breaker.RemainingOpen() > TimeSpan.FromMinutes(59));
    }

    [Fact]
    public void OnSuccess_ResetsTheFailureStreak()
    {
        var breaker = new RedisCircuitBreaker(3, TimeSpan.FromHours(1), TimeSpan.Zero);

        breaker.OnFailure(false);
        breaker.OnFailure(false);
        breaker.OnSuccess(false);
        breaker.OnFailure(false);

        Assert.False(breaker.IsOpen);
    }

    [Fact]
    public async Task IsShortCircuiting_WhileTheProbeIsInFlight_TrueUntilItAnswers()
    {
        var breaker = new RedisCircuitBreaker(1, TimeSpan.FromMilliseconds(20), TimeSpan.Zero);
        breaker.OnFailure(false);
        await Task.Delay(50);
        Assert.False(breaker.IsShortCircuiting); // due for a probe

        Assert.True(breaker.TryEnter(out var isProbe) && isProbe);

        // Half-open: everyone else gets the outage mode at once instead of queueing behind the probe.
        Assert.True(breaker.IsShortCircuiting);
        breaker.OnSuccess(isProbe: true);
        Assert.False(breaker.IsShortCircuiting);
    }

    [Fact]
    public async Task TryEnter_AfterBreak_AdmitsOneProbe_SuccessCloses_FailureReopens()
    {
        var breaker = new RedisCircuitBreaker(1, TimeSpan.FromMilliseconds(20), TimeSpan.Zero);
        breaker.OnFailure(false);
        await Task.Delay(50);

        Assert.True(breaker.TryEnter(out var firstIsProbe));
        Assert.True(firstIsProbe);
        Assert.False(breaker.TryEnter(out _)); // only one probe at a time
        breaker.OnFailure(isProbe: true);
        Assert.True(breaker.IsShortCircuiting);

        await Task.Delay(50);
        Assert.True(breaker.TryEnter(out var secondIsProbe));
        breaker.OnSuccess(secondIsProbe);
        Assert.False(breaker.IsOpen);
        Assert.True(breaker.TryEnter(out var afterClose));
        Assert.False(afterClose);
    }

    [Fact]
    public void ProbeNow_OpenForAnHour_NextCallerProbesAtOnceAndAFailedProbeReopens()
    {
        var breaker = new RedisCircuitBreaker(1, TimeSpan.FromHours(1), TimeSpan.Zero);
        breaker.OnFailure(isProbe: false);
        Assert.False(breaker.TryEnter(out _));

        breaker.ProbeNow();

        Assert.False(breaker.IsShortCircuiting);
        Assert.True(breaker.TryEnter(out var isProbe));
        Assert.True(isProbe);
        Assert.False(breaker.TryEnter(out _));
        breaker.OnFailure(isProbe: true);
        Assert.True(breaker.IsShortCircuiting);
    }

    [Fact]
    public void ProbeNow_Closed_StaysClosed()
    {
        var breaker = new RedisCircuitBreaker(3, TimeSpan.FromHours(1), TimeSpan.Zero);

        breaker.ProbeNow();

        Assert.False(breaker.IsOpen);
        Assert.True(breaker.TryEnter(out var isProbe));
        Assert.False(isProbe);
    }
}
