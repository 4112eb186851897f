using System.Security.Cryptography;

namespace Edge.AuditWriter.Protection;

/// <summary>A subject by its plaintext (principal, or client IP when there is none) and tenant.</summary>
internal readonly record struct SubjectCacheKey(bool IsPrincipal, string Value, string Tenant);

/// <summary>
/// The subjects resolved by earlier batches: subject row id, unwrapped data key and newest erasure tombstone, least
/// recently used evicted beyond
/// <c>Writer:SubjectKeyCacheSize</c>. A hit saves the blind-index HMAC, the subject lookup and the key unwrap (about
/// 8 µs per record in perf, where nearly every record of a batch has a subject that batch has not seen yet).
/// Security: every operation that deletes subject keys (erasure, retention, another writer taking the sequencer lease)
/// calls <see cref="Clear"/> before it returns, so a key the store no longer holds is never used from here; entries are
/// added only after the batch that read or created them committed (<see cref="Generation"/> refuses a batch that
/// raced a clear), and keys are copied out, kept in pinned arrays and zeroed when evicted or cleared. The tombstone
/// time travels with the key so that a hit still tells the caller which of the subject's records (those made at or
/// before it) must not get this key: a key created after an erasure belongs to the records made after it.
/// </summary>
internal sealed class SubjectKeyCache : IDisposable
{
    private readonly object _lock = new();
    private readonly int _capacity;
    private readonly Dictionary<SubjectCacheKey, LinkedListNode<Entry>> _entries;
    private readonly LinkedList<Entry> _recency = new();
    private long _generation;

    public SubjectKeyCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _capacity = capacity;
        _entries = new Dictionary<SubjectCacheKey, LinkedListNode<Entry>>(Math.Min(capacity, 4096));
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Changes on every <see cref="Clear"/>: a batch that started before a clear must not add what it read.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>
    /// Copies the cached data key into <paramref name="dataKey"/> (32 bytes) and gives the subject's newest erasure time
    /// (null when never erased); false when the subject is not cached.
    /// </summary>
    public bool TryGet(in SubjectCacheKey key, Span<byte> dataKey, out long subjectId, out DateTimeOffset? erasedAt)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node))
            {
                subjectId = 0;
                erasedAt = null;
                return false;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            node.Value.DataKey.CopyTo(dataKey);
            subjectId = node.Value.SubjectId;
            erasedAt = node.Value.ErasedAt;
            return true;
        }
    }

    /// <summary>Adds a subject of a committed batch, unless a <see cref="Clear"/> happened since <paramref name="generation"/>.</summary>
    public void Add(in SubjectCacheKey key, long subjectId, ReadOnlySpan<byte> dataKey, DateTimeOffset? erasedAt, long generation)
    {
        if (_capacity == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (generation != _generation || _entries.ContainsKey(key))
            {
                return;
            }

            LinkedListNode<Entry> node;
            if (_entries.Count >= _capacity)
            {
                // Reuse the evicted entry's node and pinned array: no allocation once the cache is full.
                node = _recency.Last!;
                _recency.RemoveLast();
                _entries.Remove(node.Value.Key);
                node.Value.Key = key;
                node.Value.SubjectId = subjectId;
                node.Value.ErasedAt = erasedAt;
            }
            else
            {
                node = new LinkedListNode<Entry>(new Entry(key, subjectId, GC.AllocateArray<byte>(SubjectKeyring.DataKeyBytes, pinned: true)) { ErasedAt = erasedAt });
            }

            dataKey.CopyTo(node.Value.DataKey);
            _recency.AddFirst(node);
            _entries.Add(key, node);
        }
    }

    /// <summary>Forgets (and zeroes) every cached key.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _generation);
            foreach (var entry in _recency)
            {
                CryptographicOperations.ZeroMemory(entry.DataKey);
            }

            _recency.Clear();
            _entries.Clear();
        }
    }

    public void Dispose() => Clear();

    private sealed class Entry(SubjectCacheKey key, long subjectId, byte[] dataKey)
    {
        public SubjectCacheKey Key { get; set; } = key;
        public long SubjectId { get; set; } = subjectId;
        public DateTimeOffset? ErasedAt { get; set; }
        public byte[] DataKey { get; } = dataKey;
    }
}
