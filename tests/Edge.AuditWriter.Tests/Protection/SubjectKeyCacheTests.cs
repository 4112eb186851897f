using Edge.AuditWriter.Protection;

namespace Edge.AuditWriter.Tests.Protection;

public sealed class SubjectKeyCacheTests
{
    private static SubjectCacheKey Key(int i) => new(true, $"user-{i}", "acme");

    private static byte[] DataKey(int i) => Enumerable.Repeat((byte)i, SubjectKeyring.DataKeyBytes).ToArray();

    [Fact]
    public void Add_BeyondCapacity_EvictsTheLeastRecentlyUsed()
    {
        using var cache = new SubjectKeyCache(2);
        var key = new byte[SubjectKeyring.DataKeyBytes];
        cache.Add(Key(1), 1, DataKey(1), null, cache.Generation);
        cache.Add(Key(2), 2, DataKey(2), null, cache.Generation);
        Assert.True(cache.TryGet(Key(1), key, out _, out _));

        cache.Add(Key(3), 3, DataKey(3), null, cache.Generation);

        Assert.Equal(2, cache.Count);
        Assert.False(cache.TryGet(Key(2), key, out _, out _));
        Assert.True(cache.TryGet(Key(1), key, out var first, out _));
        Assert.Equal(1, first);
        Assert.Equal(DataKey(1), key);
        Assert.True(cache.TryGet(Key(3), key, out var third, out _));
        Assert.Equal(3, third);
        Assert.Equal(DataKey(3), key);
    }

    [Fact]
    public void Add_FromABatchThatStartedBeforeAClear_IsRefused()
    {
        using var cache = new SubjectKeyCache(16);
        var batchStarted = cache.Generation;

        cache.Clear();
        cache.Add(Key(1), 1, DataKey(1), null, batchStarted);

        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryGet(Key(1), new byte[SubjectKeyring.DataKeyBytes], out _, out _));
    }

    [Fact]
    public void Clear_CachedKeys_AreGoneAndCapacityZeroCachesNothing()
    {
        using var cache = new SubjectKeyCache(16);
        using var off = new SubjectKeyCache(0);
        cache.Add(Key(1), 1, DataKey(1), null, cache.Generation);
        off.Add(Key(1), 1, DataKey(1), null, off.Generation);

        cache.Clear();

        Assert.False(cache.TryGet(Key(1), new byte[SubjectKeyring.DataKeyBytes], out _, out _));
        Assert.Equal(0, off.Count);
    }
}
