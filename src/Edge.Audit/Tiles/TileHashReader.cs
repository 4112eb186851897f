using Edge.Audit.Merkle;

namespace Edge.Audit.Tiles;

/// <summary>
/// Roots and RFC 9162 proofs computed from stored tiles instead of an in-memory tree: every hash a proof needs is a
/// perfect aligned subtree, which is one tile hash or a node hashed up from at most 128 hashes of one tile. Tiles are
/// expanded once (all 8 heights, 511 hashes) and kept in a small LRU cache keyed by (level, index), holding the widest
/// version read: a tile's hashes never change, it only grows, so a wider expansion answers every narrower request. An
/// export proving thousands of records at one size thus reads and hashes each tile once, the partial ones included.
/// Thread-safe; the caller checks that sizes do not exceed the tree it serves.
/// </summary>
public sealed class TileHashReader(Func<int, long, Tile?> readTile, int cachedTiles = 64)
{
    private readonly Lock _cacheLock = new();
    private readonly Dictionary<(int Level, long Index), LinkedListNode<ExpandedTile>> _cache = [];
    private readonly LinkedList<ExpandedTile> _recent = new();

    public byte[] Root(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return size == 0 ? MerkleHasher.EmptyRoot.ToArray() : SubtreeHash(0, size);
    }

    /// <summary>RFC 9162 PATH(index, D[0:size]), ordered from the leaf up.</summary>
    public IReadOnlyList<byte[]> InclusionProof(long index, long size) => MerkleProofs.Inclusion(index, size, SubtreeHash);

    /// <summary>RFC 9162 PROOF(from, D[0:to]).</summary>
    public IReadOnlyList<byte[]> ConsistencyProof(long from, long to) => MerkleProofs.Consistency(from, to, SubtreeHash);

    /// <summary>MTH(D[start:end]) by RFC 6962's recursion, down to perfect aligned subtrees.</summary>
    public byte[] SubtreeHash(long start, long end)
    {
        var n = end - start;
        if ((n & (n - 1)) == 0 && start % n == 0)
        {
            var height = (int)long.TrailingZeroCount(n);
            return NodeHash(height, start >> height);
        }

        var k = MerkleHasher.SplitPoint(n);
        return MerkleHasher.HashChildren(SubtreeHash(start, start + k), SubtreeHash(start + k, end));
    }

    /// <summary>The hash of the <paramref name="index"/>-th perfect subtree of 2^<paramref name="height"/> leaves.</summary>
    public byte[] NodeHash(int height, long index)
    {
        var level = height / Tile.Height;
        var heightInTile = height % Tile.Height;
        var first = index << heightInTile;
        var offset = (int)(first % Tile.FullWidth);
        var tile = Expanded(level, first / Tile.FullWidth, offset + (1 << heightInTile));
        return tile.Node(heightInTile, offset >> heightInTile);
    }

    private ExpandedTile Expanded(int level, long index, int minWidth)
    {
        var key = (level, index);
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(key, out var node) && node.Value.Width >= minWidth)
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value;
            }
        }

        var tile = readTile(level, index);
        if (tile is null || tile.Width < minWidth)
        {
            throw new InvalidOperationException(
                $"The store's tile {level}/{index} holds {tile?.Width ?? 0} hashes; at least {minWidth} are needed. Run 'edge audit verify'.");
        }

        var expanded = new ExpandedTile(key, tile.Hashes);
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(key, out var node))
            {
                if (node.Value.Width >= expanded.Width)
                {
                    return node.Value;
                }

                _recent.Remove(node);
            }

            _cache[key] = _recent.AddFirst(expanded);
            if (_cache.Count > cachedTiles)
            {
                _cache.Remove(_recent.Last!.Value.Key);
                _recent.RemoveLast();
            }
        }

        return expanded;
    }

    /// <summary>A tile with the nodes of every height inside it: heights[h][j] is MTH of its hashes [j·2^h, (j+1)·2^h).</summary>
    private sealed class ExpandedTile
    {
        private readonly byte[][] _heights = new byte[Tile.Height + 1][];

        public ExpandedTile((int Level, long Index) key, byte[] hashes)
        {
            Key = key;
            Width = hashes.Length / MerkleHasher.HashSize;
            _heights[0] = hashes;
            for (var h = 1; h <= Tile.Height; h++)
            {
                var below = _heights[h - 1];
                var count = below.Length / MerkleHasher.HashSize / 2;
                var nodes = new byte[count * MerkleHasher.HashSize];
                for (var j = 0; j < count; j++)
                {
                    MerkleHasher.HashChildren(
                        below.AsSpan(2 * j * MerkleHasher.HashSize, MerkleHasher.HashSize),
                        below.AsSpan((2 * j + 1) * MerkleHasher.HashSize, MerkleHasher.HashSize),
                        nodes.AsSpan(j * MerkleHasher.HashSize, MerkleHasher.HashSize));
                }

                _heights[h] = nodes;
            }
        }

        public (int Level, long Index) Key { get; }

        public int Width { get; }

        public byte[] Node(int height, int position) =>
            _heights[height].AsSpan(position * MerkleHasher.HashSize, MerkleHasher.HashSize).ToArray();
    }
}
