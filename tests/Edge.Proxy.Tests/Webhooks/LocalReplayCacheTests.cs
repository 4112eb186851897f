using Edge.Proxy.Webhooks;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Webhooks;

public sealed class LocalReplayCacheTests
{
    [Fact]
    public void TryAdd_SameKeyTwice_SecondRefused()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());

        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5)));
        Assert.False(cache.TryAdd("a", TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void TryAdd_AfterTtl_AcceptedAgain()
    {
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time);
        cache.TryAdd("a", TimeSpan.FromMinutes(5));

        time.Advance(TimeSpan.FromMinutes(4));
        Assert.False(cache.TryAdd("a", TimeSpan.FromMinutes(5)));
        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromTicks(1));
        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void TryAdd_BeyondCapacity_StaysBoundedAndKeepsNewestEntries()
    {
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time, capacity: 100);

        for (var i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(cache.TryAdd("k" + i, TimeSpan.FromHours(1)));
        }

        Assert.True(cache.Count <= 100);
        Assert.False(cache.TryAdd("k999", TimeSpan.FromHours(1)));
    }

    [Fact]
    public async Task TryAdd_ConcurrentSameKey_ExactlyOneWins()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 32).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return cache.TryAdd("same", TimeSpan.FromMinutes(5));
        })).ToList();
        start.Set();

        Assert.Equal(1, (await Task.WhenAll(attempts)).Count(added => added));
    }

    [Fact]
    public void Remove_ReleasedKey_AcceptedAgain()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());
        cache.TryAdd("a", TimeSpan.FromMinutes(5));

        cache.Remove("a");

        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5)));
    }
}
