using Edge.Audit.Merkle;

namespace Edge.Audit.Tiles;

/// <summary>
/// The right edge of a tiled tree: the partial tile of every level (at most 255 hashes each), which is all an append
/// needs. Memory is 8 KiB per level (five levels reach 2^40 leaves), independent of the log's size. Appending reports
/// the tiles to store (<see cref="TakeChanges"/>); every other hash lives in stored full tiles. Not thread-safe.
/// </summary>
public sealed class TileEdge
{
    private readonly List<byte[]> _partials = [];
    private readonly List<int> _widths = [];

    // Full tiles so far per level: the index of the level's partial tile.
    private readonly List<long> _fullTiles = [];
    private readonly List<Tile> _completed = [];
    private readonly HashSet<int> _touched = [];

    public long Size { get; private set; }

    /// <summary>
    /// The edge of a tree of <paramref name="size"/> leaves whose tiles are stored: reads the partial tile of each level
    /// (O(log n) reads), nothing else.
    /// </summary>
    public static TileEdge Restore(long size, Func<int, long, Tile?> readTile)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentNullException.ThrowIfNull(readTile);
        var edge = new TileEdge { Size = size };
        for (var level = 0; level * Tile.Height < 64 && (size >> (Tile.Height * level)) > 0; level++)
        {
            edge.EnsureLevel(level);
            var hashesAtLevel = size >> (Tile.Height * level);
            var width = (int)(hashesAtLevel % Tile.FullWidth);
            var index = hashesAtLevel / Tile.FullWidth;
            edge._fullTiles[level] = index;
            edge._widths[level] = width;
            if (width == 0)
            {
                continue;
            }

            var tile = readTile(level, index);
            if (tile is null || tile.Width < width)
            {
                throw new InvalidOperationException(
                    $"The store's tile {level}/{index} holds {tile?.Width ?? 0} hashes; a tree of {size} leaves needs {width}.");
            }

            tile.Hashes.AsSpan(0, width * MerkleHasher.HashSize).CopyTo(edge._partials[level]);
        }

        return edge;
    }

    /// <summary>A copy to append a batch to: the batch's tiles are computed before its transaction commits, and the copy replaces this edge only after.</summary>
    public TileEdge Clone()
    {
        var clone = new TileEdge { Size = Size };
        for (var level = 0; level < _partials.Count; level++)
        {
            clone._partials.Add((byte[])_partials[level].Clone());
        }

        clone._widths.AddRange(_widths);
        clone._fullTiles.AddRange(_fullTiles);
        return clone;
    }

    public void AppendLeafHash(ReadOnlySpan<byte> leafHash)
    {
        if (leafHash.Length != MerkleHasher.HashSize)
        {
            throw new ArgumentException("A leaf hash is 32 bytes.", nameof(leafHash));
        }

        Add(0, leafHash);
        Size++;
    }

    /// <summary>The full tiles completed and the partial tiles changed since the last call.</summary>
    public TileChanges TakeChanges()
    {
        if (_touched.Count == 0)
        {
            return TileChanges.None;
        }

        var partials = _touched.Order()
            .Select(level => new Tile(level, _fullTiles[level], _partials[level].AsSpan(0, _widths[level] * MerkleHasher.HashSize).ToArray()))
            .ToList();
        var changes = new TileChanges(_completed.ToList(), partials);
        _completed.Clear();
        _touched.Clear();
        return changes;
    }

    /// <summary>The level's partial tile when it is tile <paramref name="index"/> and not empty (a copy), else null.</summary>
    public Tile? Partial(int level, long index)
    {
        if (level >= _partials.Count || _fullTiles[level] != index || _widths[level] == 0)
        {
            return null;
        }

        return new Tile(level, index, _partials[level].AsSpan(0, _widths[level] * MerkleHasher.HashSize).ToArray());
    }

    /// <summary>Every level's partial tile that is not empty (copies).</summary>
    public IEnumerable<Tile> PartialTiles() =>
        Enumerable.Range(0, _partials.Count).Select(level => Partial(level, _fullTiles[level])).OfType<Tile>().ToList();

    /// <summary>
    /// RFC 6962 MTH of the whole tree. The partial tiles, top level first, cover the leaves left to right; each set bit
    /// of a width is one perfect subtree (a peak), and the peaks fold right to left as in <see cref="CompactRange"/>.
    /// </summary>
    public byte[] Root()
    {
        var peaks = new List<byte[]>();
        for (var level = _partials.Count - 1; level >= 0; level--)
        {
            var position = 0;
            for (var bit = Tile.Height - 1; bit >= 0; bit--)
            {
                var count = 1 << bit;
                if ((_widths[level] & count) != 0)
                {
                    peaks.Add(PerfectRoot(_partials[level].AsSpan(position * MerkleHasher.HashSize, count * MerkleHasher.HashSize)));
                    position += count;
                }
            }
        }

        if (peaks.Count == 0)
        {
            return MerkleHasher.EmptyRoot.ToArray();
        }

        var root = peaks[^1];
        for (var i = peaks.Count - 2; i >= 0; i--)
        {
            root = MerkleHasher.HashChildren(peaks[i], root);
        }

        return root;
    }

    /// <summary>MTH of a power-of-two run of hashes: the perfect subtree they are the leaves (or nodes) of.</summary>
    public static byte[] PerfectRoot(ReadOnlySpan<byte> hashes)
    {
        var count = hashes.Length / MerkleHasher.HashSize;
        if (count == 0 || (count & (count - 1)) != 0 || hashes.Length % MerkleHasher.HashSize != 0)
        {
            throw new ArgumentException("A perfect subtree has a power-of-two number of hashes.", nameof(hashes));
        }

        var work = hashes.ToArray();
        for (; count > 1; count >>= 1)
        {
            for (var i = 0; i < count / 2; i++)
            {
                MerkleHasher.HashChildren(
                    work.AsSpan(2 * i * MerkleHasher.HashSize, MerkleHasher.HashSize),
                    work.AsSpan((2 * i + 1) * MerkleHasher.HashSize, MerkleHasher.HashSize),
                    work.AsSpan(i * MerkleHasher.HashSize, MerkleHasher.HashSize));
            }
        }

        return work.AsSpan(0, MerkleHasher.HashSize).ToArray();
    }

    private void Add(int level, ReadOnlySpan<byte> hash)
    {
        EnsureLevel(level);
        var buffer = _partials[level];
        hash.CopyTo(buffer.AsSpan(_widths[level] * MerkleHasher.HashSize));
        _widths[level]++;
        _touched.Add(level);
        if (_widths[level] < Tile.FullWidth)
        {
            return;
        }

        _completed.Add(new Tile(level, _fullTiles[level], (byte[])buffer.Clone()));
        _fullTiles[level]++;
        _widths[level] = 0;
        Add(level + 1, PerfectRoot(buffer));
    }

    private void EnsureLevel(int level)
    {
        while (_partials.Count <= level)
        {
            _partials.Add(new byte[Tile.FullBytes]);
            _widths.Add(0);
            _fullTiles.Add(0);
        }
    }
}
