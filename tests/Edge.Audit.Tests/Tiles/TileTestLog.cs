using System.Security.Cryptography;
using Edge.Audit.Tiles;

namespace Edge.Audit.Tests.Tiles;

/// <summary>
/// A tiled log held in dictionaries the way the store holds it (full tiles inserted once, one partial tile per level
/// replaced), plus RFC 6962 hashing written here from the RFC text: it shares no code with Edge.Audit.Merkle.
/// </summary>
internal sealed class TileTestLog
{
    private readonly Dictionary<(int, long), byte[]> _full = [];
    private readonly Dictionary<int, Tile> _partials = [];

    public TileEdge Edge { get; } = new();

    public List<byte[]> LeafHashes { get; } = [];

    public static byte[] LeafData(long i) => BitConverter.GetBytes(i * 7919 + 13);

    public static byte[] Leaf(byte[] data) => SHA256.HashData([0x00, .. data]);

    public static byte[] Node(byte[] left, byte[] right) => SHA256.HashData([0x01, .. left, .. right]);

    /// <summary>MTH(D[start:end]) straight from RFC 6962 §2.1 over leaf hashes.</summary>
    public byte[] Mth(long start, long end)
    {
        if (end - start == 1)
        {
            return LeafHashes[(int)start];
        }

        var k = 1L;
        while (k * 2 < end - start)
        {
            k *= 2;
        }

        return Node(Mth(start, start + k), Mth(start + k, end));
    }

    public void AppendTo(long size)
    {
        while (Edge.Size < size)
        {
            var hash = Leaf(LeafData(Edge.Size));
            LeafHashes.Add(hash);
            Edge.AppendLeafHash(hash);
        }

        Store(Edge.TakeChanges());
    }

    public void Store(TileChanges changes)
    {
        foreach (var tile in changes.FullTiles)
        {
            Assert.True(tile.IsFull);
            Assert.True(_full.TryAdd((tile.Level, tile.Index), tile.Hashes), $"full tile {tile.Level}/{tile.Index} written twice");
            if (_partials.TryGetValue(tile.Level, out var old) && old.Index == tile.Index)
            {
                _partials.Remove(tile.Level);
            }
        }

        foreach (var tile in changes.Partials)
        {
            if (tile.Width == 0)
            {
                _partials.Remove(tile.Level);
            }
            else
            {
                _partials[tile.Level] = tile;
            }
        }
    }

    public Tile? Read(int level, long index) =>
        _full.TryGetValue((level, index), out var full) ? new Tile(level, index, full)
        : _partials.TryGetValue(level, out var partial) && partial.Index == index ? partial : null;

    public IReadOnlyCollection<(int Level, long Index)> FullTiles => _full.Keys;

    public IReadOnlyCollection<Tile> Partials => _partials.Values;
}
