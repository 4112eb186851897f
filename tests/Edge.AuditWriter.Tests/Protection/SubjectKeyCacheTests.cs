using System.Security.Cryptography;
using Edge.AuditWriter.Protection;

namespace Edge.AuditWriter.Tests.Protection;

public sealed class SubjectKeyCacheTests
{
    private static SubjectCacheKey Key(int i) => new(true, $"user-{i}", "acme");

    private static byte[] DataKey(int i) => Enumerable.Repeat((byte)i, SubjectKeyring.DataKeyBytes).ToArray();

    private static AesGcm Cipher(int i) => SubjectKeyring.CreateCipher(DataKey(i));

    private static byte[] Seal(AesGcm cipher)
    {
        var sealedBytes = new byte[SubjectKeyring.SealedLength(4)];
        SubjectKeyring.Seal(cipher, "data"u8, "id"u8, sealedBytes);
        return sealedBytes;
    }

    [Fact]
    public void Add_BeyondCapacity_EvictsTheLeastRecentlyUsed()
    {
        using var cache = new SubjectKeyCache(2);
        Assert.True(cache.Add(Key(1), 1, Cipher(1), cache.Generation));
        Assert.True(cache.Add(Key(2), 2, Cipher(2), cache.Generation));
        Assert.True(cache.TryGet(Key(1), out _, out _));

        Assert.True(cache.Add(Key(3), 3, Cipher(3), cache.Generation));

        Assert.Equal(2, cache.Count);
        Assert.False(cache.TryGet(Key(2), out _, out _));
        Assert.True(cache.TryGet(Key(1), out var first, out var firstId));
        Assert.Equal(1, firstId);
        Assert.Equal("data"u8.ToArray(), OpenWith(DataKey(1), Seal(first)));
        Assert.True(cache.TryGet(Key(3), out var third, out var thirdId));
        Assert.Equal(3, thirdId);
        Assert.Equal("data"u8.ToArray(), OpenWith(DataKey(3), Seal(third)));
    }

    [Fact]
    public void Add_BeyondCapacity_DisposesTheEvictedCipher()
    {
        using var cache = new SubjectKeyCache(1);
        var evicted = Cipher(1);
        cache.Add(Key(1), 1, evicted, cache.Generation);

        cache.Add(Key(2), 2, Cipher(2), cache.Generation);

        Assert.Throws<ObjectDisposedException>(() => Seal(evicted));
    }

    [Fact]
    public void Add_FromABatchThatStartedBeforeAClear_IsRefusedAndLeftToTheCaller()
    {
        using var cache = new SubjectKeyCache(16);
        var batchStarted = cache.Generation;
        using var cipher = Cipher(1);

        cache.Clear();
        var taken = cache.Add(Key(1), 1, cipher, batchStarted);

        Assert.False(taken);
        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryGet(Key(1), out _, out _));
        Assert.Equal("data"u8.ToArray(), OpenWith(DataKey(1), Seal(cipher)));
    }

    [Fact]
    public void Add_SubjectAlreadyCached_IsRefusedAndLeftToTheCaller()
    {
        using var cache = new SubjectKeyCache(16);
        cache.Add(Key(1), 1, Cipher(1), cache.Generation);
        using var second = Cipher(1);

        Assert.False(cache.Add(Key(1), 1, second, cache.Generation));
        Assert.Equal("data"u8.ToArray(), OpenWith(DataKey(1), Seal(second)));
    }

    [Fact]
    public void Clear_CachedCipher_CannotSealOrOpenAnymore()
    {
        // What erasure, retention and a lease takeover rely on: a cipher handed out before the clear (a batch in flight)
        // is unusable after it, for sealing and for opening.
        using var cache = new SubjectKeyCache(16);
        cache.Add(Key(1), 1, Cipher(1), cache.Generation);
        Assert.True(cache.TryGet(Key(1), out var handedOut, out _));
        var sealedBefore = Seal(handedOut);

        cache.Clear();

        Assert.False(cache.TryGet(Key(1), out _, out _));
        Assert.Throws<ObjectDisposedException>(() => Seal(handedOut));
        var plaintext = new byte[4];
        Assert.Throws<ObjectDisposedException>(() =>
            handedOut.Decrypt(sealedBefore.AsSpan(0, 12), sealedBefore.AsSpan(12, 4), sealedBefore.AsSpan(16), plaintext, "id"u8));
    }

    [Fact]
    public void Clear_CapacityZero_CachesNothing()
    {
        using var off = new SubjectKeyCache(0);
        using var cipher = Cipher(1);

        Assert.False(off.Add(Key(1), 1, cipher, off.Generation));
        Assert.Equal(0, off.Count);
        Assert.Equal("data"u8.ToArray(), OpenWith(DataKey(1), Seal(cipher)));
    }

    private static byte[] OpenWith(byte[] key, byte[] sealedBytes) => SubjectKeyring.Decrypt(key, sealedBytes, "id"u8);
}
