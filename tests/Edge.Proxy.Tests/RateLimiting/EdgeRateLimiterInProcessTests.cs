using System.Threading.RateLimiting;
using Edge.Proxy.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class EdgeRateLimiterInProcessTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public async Task DecideAsync_BurstThenRefill_FollowsConfiguredRate(string algorithm)
    {
        using var services = new RateLimitTestServices(time: _time);
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions
        {
            Algorithm = algorithm, Limit = 60, Window = TimeSpan.FromMinutes(1), Burst = 5,
        }));

        var burst = await AdmittedAsync(limiter, "k", 10);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        var beforeOneSecond = await AdmittedAsync(limiter, "k", 1);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var afterOneSecond = await AdmittedAsync(limiter, "k", 3);
        _time.Advance(TimeSpan.FromSeconds(30));
        var afterThirty = await AdmittedAsync(limiter, "k", 10);

        Assert.Equal(5, burst);
        Assert.Equal(0, beforeOneSecond);
        Assert.Equal(1, afterOneSecond);
        Assert.Equal(5, afterThirty); // refill is capped at the burst
    }

    [Fact]
    public async Task DecideAsync_Refused_ReportsRetryAfterUntilNextTokenAndResetUntilFull()
    {
        using var services = new RateLimitTestServices(time: _time);
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 10, Window = TimeSpan.FromSeconds(10) }));
        await AdmittedAsync(limiter, "k", 10);
        _time.Advance(TimeSpan.FromMilliseconds(400));

        var refused = await limiter.DecideAsync("k", 1, CancellationToken.None);

        Assert.False(refused.Admitted);
        Assert.Equal("limited", refused.Outcome);
        Assert.Equal(RateLimitDecisionSource.InProcess, refused.Source);
        Assert.InRange(refused.RetryAfter.Ticks, 5_999_999, 6_000_001); // 600 ms, within float rounding
        Assert.Equal(0, refused.Remaining);
        Assert.InRange(refused.ResetAfter!.Value.Ticks, 95_999_999, 96_000_001);
    }

    [Fact]
    public async Task DecideAsync_RemainingCountsDownWithEachAdmission()
    {
        using var services = new RateLimitTestServices(time: _time);
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 3 }));

        var remaining = new List<long?>();
        for (var i = 0; i < 3; i++)
        {
            remaining.Add((await limiter.DecideAsync("k", 1, CancellationToken.None)).Remaining);
        }

        Assert.Equal([2, 1, 0], remaining);
    }

    [Fact]
    public async Task DecideAsync_DifferentPartitions_HaveSeparateBuckets()
    {
        using var services = new RateLimitTestServices(time: _time);
        var limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 2 }));

        Assert.Equal(2, await AdmittedAsync(limiter, "acme:alice", 5));
        Assert.Equal(2, await AdmittedAsync(limiter, "globex:alice", 5));
    }

    [Fact]
    public void AttemptAcquire_InProcess_DecidesSynchronouslyWithMetadata()
    {
        using var services = new RateLimitTestServices(time: _time);
        PartitionedRateLimiter<string> limiter = services.Registry.GetOrCreate(RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 1, Window = TimeSpan.FromSeconds(30) }));

        using var first = limiter.AttemptAcquire("k");
        using var second = limiter.AttemptAcquire("k");

        Assert.True(first.IsAcquired);
        Assert.True(first.TryGetMetadata(EdgeRateLimitLease.Limit, out var limit));
        Assert.Equal(1, limit);
        Assert.True(first.TryGetMetadata(EdgeRateLimitLease.Remaining, out var remaining));
        Assert.Equal(0, remaining);
        Assert.False(second.IsAcquired);
        Assert.True(second.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
        Assert.Contains(MetadataName.RetryAfter.Name, second.MetadataNames);
    }

    [Fact]
    public void GetOrCreate_SamePolicyAfterReload_KeepsState_ChangedPolicy_StartsFresh()
    {
        using var services = new RateLimitTestServices(time: _time);
        var options = new RateLimitPolicyOptions { Limit = 1 };
        var first = services.Registry.GetOrCreate(RateLimitTestServices.Policy(options));

        var same = services.Registry.GetOrCreate(RateLimitTestServices.Policy(options));
        var changed = services.Registry.GetOrCreate(RateLimitTestServices.Policy(options with { Limit = 2 }));

        Assert.Same(first, same);
        Assert.NotSame(first, changed);
    }

    private static async Task<int> AdmittedAsync(EdgeRateLimiter limiter, string key, int attempts)
    {
        var admitted = 0;
        for (var i = 0; i < attempts; i++)
        {
            if ((await limiter.DecideAsync(key, 1, CancellationToken.None)).Admitted)
            {
                admitted++;
            }
        }

        return admitted;
    }
}
