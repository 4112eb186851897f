using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Authorization;

/// <summary>
/// JWTs that passed full validation, keyed by the SHA-256 of the token's bytes (the token itself is never kept), with
/// the validity window and the key set they were validated against. A hit is served only while the window (with the
/// policy's clock skew, on the injected <see cref="TimeProvider"/>) holds and the key set is the one in use; a forged
/// token differs in its bytes and so in its hash. Bounded: when full, the whole cache is dropped, which costs one
/// re-validation per live token and needs no per-hit bookkeeping.
/// </summary>
internal sealed class ValidatedTokenCache
{
    public const int DefaultCapacity = 10_000;

    // Tokens above this are hashed from a pooled buffer instead of the stack.
    private const int StackEncodeLimit = 2048;

    private readonly ConcurrentDictionary<TokenHash, Entry> _entries = new();
    private readonly int _capacity;
    private int _count;

    public ValidatedTokenCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    public int Count => Volatile.Read(ref _count);

    public static TokenHash Hash(ReadOnlySpan<char> token)
    {
        var length = Encoding.UTF8.GetMaxByteCount(token.Length);
        byte[]? rented = null;
        var buffer = length <= StackEncodeLimit ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var written = Encoding.UTF8.GetBytes(token, buffer);
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer[..written], digest);
            return new TokenHash(
                BitConverter.ToUInt64(digest),
                BitConverter.ToUInt64(digest[8..]),
                BitConverter.ToUInt64(digest[16..]),
                BitConverter.ToUInt64(digest[24..]));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public bool TryGet(TokenHash hash, out Entry entry) => _entries.TryGetValue(hash, out entry!);

    public void Add(TokenHash hash, Entry entry)
    {
        if (Interlocked.Increment(ref _count) > _capacity)
        {
            Clear();
            Interlocked.Increment(ref _count);
        }

        if (!_entries.TryAdd(hash, entry))
        {
            _entries[hash] = entry;
            Interlocked.Decrement(ref _count);
        }
    }

    public void Remove(TokenHash hash)
    {
        if (_entries.TryRemove(hash, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    public void Clear()
    {
        _entries.Clear();
        Volatile.Write(ref _count, 0);
    }

    /// <param name="Result">The successful result of full validation, returned as is on a hit.</param>
    /// <param name="NotBefore">The token's <c>nbf</c> (UTC), or <see cref="DateTime.MinValue"/> without one.</param>
    /// <param name="Expires">The token's <c>exp</c> (UTC); tokens without one are never valid, so never cached.</param>
    /// <param name="KeySet">The fetched key set the token was validated against; null for a configured secret.</param>
    internal sealed record Entry(EdgeAuthenticationResult Result, DateTime NotBefore, DateTime Expires, object? KeySet);

    internal readonly record struct TokenHash(ulong A, ulong B, ulong C, ulong D);
}
