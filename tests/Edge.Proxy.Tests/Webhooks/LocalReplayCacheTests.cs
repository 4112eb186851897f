using Edge.Proxy.Webhooks;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Webhooks;

public sealed class LocalReplayCacheTests
{
    [Fact]
    public void TryAdd_SameKeyTwice_SecondRefused()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());

        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _));
        Assert.False(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _));
    }

    [Fact]
    public void TryAdd_AfterTtl_AcceptedAgain()
    {
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time);
        cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _);

        time.Advance(TimeSpan.FromMinutes(4));
        Assert.False(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _));
        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromTicks(1));
        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _));
    }

    [Fact]
    public void TryAdd_BeyondCapacity_StaysBoundedAndKeepsNewestEntries()
    {
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time, capacity: 100);

        for (var i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(cache.TryAdd("k" + i, TimeSpan.FromHours(1), "P1", out _));
        }

        Assert.True(cache.Count <= 100);
        Assert.False(cache.TryAdd("k999", TimeSpan.FromHours(1), "P1", out _));
    }

    [Fact]
    public async Task TryAdd_ConcurrentSameKey_ExactlyOneWins()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());
        using var start = new ManualResetEventSlim();

        var attempts = Enumerable.Range(0, 32).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return cache.TryAdd("same", TimeSpan.FromMinutes(5), "P1", out string? existing);
        })).ToList();
        start.Set();

        Assert.Equal(1, (await Task.WhenAll(attempts)).Count(added => added));
    }

    [Fact]
    public void Remove_ReleasedKey_AcceptedAgain()
    {
        var cache = new LocalReplayCache(new FakeTimeProvider());
        cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _);

        cache.Remove("a", "P1");

        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _));
    }

    [Fact]
    public void Remove_KeyHeldWithAnotherValue_Kept()
    {
        // The release of a request whose entry expired must not drop the entry another request took meanwhile.
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time);
        cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _);
        time.Advance(TimeSpan.FromMinutes(6));
        Assert.True(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P2", out _));

        cache.Remove("a", "P1");

        Assert.False(cache.TryAdd("a", TimeSpan.FromMinutes(5), "P3", out var existing));
        Assert.Equal("P2", existing);
    }

    [Fact]
    public void TryReplace_HeldValue_ReplacedAndExpiryKept()
    {
        var time = new FakeTimeProvider();
        var cache = new LocalReplayCache(time);
        cache.TryAdd("a", TimeSpan.FromMinutes(5), "P1", out _);

        Assert.False(cache.TryReplace("a", "P0", "A0"));
        Assert.True(cache.TryReplace("a", "P1", "A1"));

        Assert.True(cache.TryGetRemaining("a", out var remaining, out var value));
        Assert.Equal(("A1", TimeSpan.FromMinutes(5)), (value, remaining));
    }
}
