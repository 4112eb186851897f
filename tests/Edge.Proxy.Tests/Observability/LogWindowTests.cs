using Edge.Proxy.Observability;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Observability;

public sealed class LogWindowTests
{
    [Fact]
    public void TryTake_ManyCallsAcrossTwoIntervals_OneLinePerIntervalCarryingTheSkippedCount()
    {
        var time = new FakeTimeProvider();
        var window = new LogWindow(TimeSpan.FromMinutes(1));

        var first = window.TryTake(time, out var skippedBefore);
        var inside = Enumerable.Range(0, 9).Count(_ => window.TryTake(time, out long _));
        time.Advance(TimeSpan.FromSeconds(59));
        var stillInside = window.TryTake(time, out _);
        time.Advance(TimeSpan.FromSeconds(1));
        var next = window.TryTake(time, out var skipped);

        Assert.True(first);
        Assert.Equal(0L, skippedBefore);
        Assert.Equal(0, inside);
        Assert.False(stillInside);
        Assert.True(next);
        Assert.Equal(10L, skipped);
    }

    [Fact]
    public async Task TryTake_ConcurrentCallers_ExactlyOneTakesTheLine()
    {
        var time = new FakeTimeProvider();
        var window = new LogWindow(TimeSpan.FromMinutes(1));
        var taken = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (window.TryTake(time, out long _))
                {
                    Interlocked.Increment(ref taken);
                }
            }
        })));
        time.Advance(TimeSpan.FromMinutes(1));
        window.TryTake(time, out var skipped);

        Assert.Equal(1, taken);
        Assert.Equal(7999L, skipped);
    }
}
