using System.Security.Cryptography;

namespace Edge.AuditWriter.Protection;

/// <summary>A subject by its plaintext (principal, or client IP when there is none) and tenant.</summary>
internal readonly record struct SubjectCacheKey(bool IsPrincipal, string Value, string Tenant);

/// <summary>
/// The subjects resolved by earlier batches: subject row id and a ready AES-256-GCM cipher over the subject's data key
/// (its key schedule made once, when the key was read from the store), least recently used evicted beyond
/// <c>Writer:SubjectKeyCacheSize</c>. A hit saves the blind-index HMAC, the subject lookup, the key unwrap and the
/// cipher's key setup.
/// Security: every operation that deletes subject keys (erasure, retention, another writer taking the sequencer lease)
/// calls <see cref="Clear"/> before it returns, so a key the store no longer holds is never used from here; entries are
/// added only after the batch that read or created them committed (<see cref="Generation"/> refuses a batch that
/// raced a clear). The cache owns its ciphers and disposes them when evicted or cleared (OpenSSL frees and cleanses
/// the key schedule), so a cipher of an erased subject cannot seal or open anything after the clear.
/// Ciphers are not safe for concurrent use: only the append path, which is serialised, takes them.
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
    /// The cached cipher of the subject (owned by the cache: the caller must not dispose it, and uses it only until
    /// its batch ends); false when the subject is not cached.
    /// </summary>
    public bool TryGet(in SubjectCacheKey key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AesGcm? cipher, out long subjectId)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node))
            {
                subjectId = 0;
                cipher = null;
                return false;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            cipher = node.Value.Cipher;
            subjectId = node.Value.SubjectId;
            return true;
        }
    }

    /// <summary>
    /// Adds a subject of a committed batch, unless a <see cref="Clear"/> happened since <paramref name="generation"/>.
    /// True when the cache took <paramref name="cipher"/> (it disposes it from then on); false when the caller keeps it.
    /// </summary>
    public bool Add(in SubjectCacheKey key, long subjectId, AesGcm cipher, long generation)
    {
        ArgumentNullException.ThrowIfNull(cipher);
        if (_capacity == 0)
        {
            return false;
        }

        AesGcm? evicted = null;
        lock (_lock)
        {
            if (generation != _generation || _entries.ContainsKey(key))
            {
                return false;
            }

            LinkedListNode<Entry> node;
            if (_entries.Count >= _capacity)
            {
                // Reuse the evicted entry's node: no allocation but the cipher once the cache is full.
                node = _recency.Last!;
                _recency.RemoveLast();
                _entries.Remove(node.Value.Key);
                evicted = node.Value.Cipher;
                node.Value.Key = key;
                node.Value.SubjectId = subjectId;
                node.Value.Cipher = cipher;
            }
            else
            {
                node = new LinkedListNode<Entry>(new Entry(key, subjectId, cipher));
            }

            _recency.AddFirst(node);
            _entries.Add(key, node);
        }

        evicted?.Dispose();
        return true;
    }

    /// <summary>Forgets every cached subject and disposes its cipher.</summary>
    public void Clear()
    {
        List<AesGcm> ciphers;
        lock (_lock)
        {
            Interlocked.Increment(ref _generation);
            ciphers = new List<AesGcm>(_entries.Count);
            foreach (var entry in _recency)
            {
                ciphers.Add(entry.Cipher);
            }

            _recency.Clear();
            _entries.Clear();
        }

        foreach (var cipher in ciphers)
        {
            cipher.Dispose();
        }
    }

    public void Dispose() => Clear();

    private sealed class Entry(SubjectCacheKey key, long subjectId, AesGcm cipher)
    {
        public SubjectCacheKey Key { get; set; } = key;
        public long SubjectId { get; set; } = subjectId;
        public AesGcm Cipher { get; set; } = cipher;
    }
}
