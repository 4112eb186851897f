using Edge.Proxy.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.RateLimiting;

public sealed class InProcessRateLimitStoreTests
{
    [Fact]
    public async Task Take_ManyKeysThatRefilled_AreSweptAway()
    {
        var time = new FakeTimeProvider();
        var store = new InProcessRateLimitStore(time);
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 10, Window = TimeSpan.FromSeconds(10) });
        for (var i = 0; i < 4000; i++)
        {
            store.Take(policy, "old-" + i, 1, 1);
        }

        time.Advance(TimeSpan.FromSeconds(2)); // every old bucket is full again
        for (var i = 0; i < 200; i++)
        {
            store.Take(policy, "new-" + i, 1, 1);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (store.Count > 200 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(200, store.Count);
    }

    [Fact]
    public void Take_ClockSteppedBack_NeitherRefillsNorDrains()
    {
        var time = new SteppableClock { Now = DateTimeOffset.Parse("2026-01-01T00:00:10Z") };
        var store = new InProcessRateLimitStore(time);
        var policy = RateLimitTestServices.Policy(new RateLimitPolicyOptions { Limit = 2, Window = TimeSpan.FromSeconds(10) });
        store.Take(policy, "k", 2, 2);

        time.Now = DateTimeOffset.Parse("2026-01-01T00:00:05Z");
        var afterStepBack = store.Take(policy, "k", 1, 1);
        time.Now = DateTimeOffset.Parse("2026-01-01T00:00:15Z");
        var afterRecovery = store.Take(policy, "k", 1, 1);

        Assert.Equal(0, afterStepBack.Granted);
        Assert.Equal(1, afterRecovery.Granted);
    }

    [Theory]
    [InlineData("TokenBucket")]
    [InlineData("Gcra")]
    public void Take_LimitLoweredBelowWhatWasUsedThenRaisedBack_KeepsWhatWasUsed(string algorithm)
    {
        var time = new FakeTimeProvider();
        var store = new InProcessRateLimitStore(time);
        RateLimitPolicy Limit(int limit) => RateLimitTestServices.Policy(
            new RateLimitPolicyOptions { Limit = limit, Window = TimeSpan.FromHours(1), Algorithm = algorithm });
        Assert.Equal(3, store.Take(Limit(4), "k", 3, 3).Granted);

        // 3 used: under a limit of 1 nothing is left, and back at 4 one is, as in Redis (a refusal writes nothing).
        var lowered = store.Take(Limit(1), "k", 1, 1);
        var raised = store.Take(Limit(4), "k", 1, 1);
        var after = store.Take(Limit(4), "k", 1, 1);

        Assert.Equal(0, lowered.Granted);
        Assert.Equal(0, lowered.Remaining);
        Assert.Equal(1, raised.Granted);
        Assert.Equal(0, after.Granted);
    }

    /// <summary>A wall clock that can be stepped backwards (NTP corrections do that; FakeTimeProvider refuses to).</summary>
    private sealed class SteppableClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
