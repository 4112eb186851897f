namespace Edge.Audit.Merkle;

/// <summary>
/// An in-memory Merkle tree that keeps every perfect subtree hash, level by level, so appends are
/// amortised O(1) hashing, any subtree hash costs O(log n), and proofs cost O(log² n) at most.
/// Memory is about 64 bytes per leaf. Not thread-safe: callers serialise appends against reads.
/// </summary>
public sealed class MerkleTree
{
    // _levels[h] holds the hashes of the complete, aligned subtrees of 2^h leaves, left to right.
    private readonly List<HashList> _levels = [new HashList()];

    public long Size => _levels[0].Count;

    public void AppendLeafHash(ReadOnlySpan<byte> leafHash)
    {
        _levels[0].Add(leafHash);
        var level = 0;
        Span<byte> parent = stackalloc byte[MerkleHasher.HashSize];
        while ((_levels[level].Count & 1) == 0)
        {
            var count = _levels[level].Count;
            MerkleHasher.HashChildren(_levels[level][count - 2], _levels[level][count - 1], parent);
            if (_levels.Count == level + 1)
            {
                _levels.Add(new HashList());
            }

            _levels[level + 1].Add(parent);
            level++;
        }
    }

    public byte[] LeafHash(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Size);
        return _levels[0][index].ToArray();
    }

    public byte[] Root() => Root(Size);

    /// <summary>The root of the tree made of the first <paramref name="size"/> leaves.</summary>
    public byte[] Root(long size)
    {
        CheckSize(size);
        return size == 0 ? MerkleHasher.EmptyRoot.ToArray() : SubtreeHash(0, size);
    }

    /// <summary>RFC 9162 PATH(index, D[0:size]), ordered from the leaf up.</summary>
    public IReadOnlyList<byte[]> InclusionProof(long index, long size)
    {
        CheckSize(size);
        return MerkleProofs.Inclusion(index, size, SubtreeHash);
    }

    /// <summary>RFC 9162 PROOF(from, D[0:to]).</summary>
    public IReadOnlyList<byte[]> ConsistencyProof(long from, long to)
    {
        CheckSize(to);
        return MerkleProofs.Consistency(from, to, SubtreeHash);
    }

    /// <summary>MTH(D[start:end]) for a range that RFC 6962's recursion produces.</summary>
    private byte[] SubtreeHash(long start, long end)
    {
        var n = end - start;
        if ((n & (n - 1)) == 0 && start % n == 0)
        {
            var height = long.TrailingZeroCount(n);
            return _levels[(int)height][start >> (int)height].ToArray();
        }

        var k = MerkleHasher.SplitPoint(n);
        return MerkleHasher.HashChildren(SubtreeHash(start, start + k), SubtreeHash(start + k, end));
    }

    private void CheckSize(long size)
    {
        if (size < 0 || size > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The tree has {Size} leaves.");
        }
    }

    /// <summary>Hashes packed in large chunks to avoid one object per node.</summary>
    private sealed class HashList
    {
        private const int ChunkHashes = 1 << 14;
        private readonly List<byte[]> _chunks = [];

        public long Count { get; private set; }

        public ReadOnlySpan<byte> this[long index]
        {
            get
            {
                var chunk = _chunks[(int)(index / ChunkHashes)];
                return chunk.AsSpan((int)(index % ChunkHashes) * MerkleHasher.HashSize, MerkleHasher.HashSize);
            }
        }

        public void Add(ReadOnlySpan<byte> hash)
        {
            var offset = (int)(Count % ChunkHashes);
            if (offset == 0)
            {
                _chunks.Add(new byte[ChunkHashes * MerkleHasher.HashSize]);
            }

            hash.CopyTo(_chunks[^1].AsSpan(offset * MerkleHasher.HashSize));
            Count++;
        }
    }
}
