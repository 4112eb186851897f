using Edge.Audit.Merkle;

namespace Edge.Audit.Tiles;

/// <summary>
/// One C2SP tlog-tiles tile: up to 256 consecutive hashes of level <see cref="Level"/>, where a level-L hash is the
/// Merkle Tree Hash of 256^L leaves. Full tiles (256 hashes) never change; a partial tile only grows at its end.
/// </summary>
public sealed record Tile(int Level, long Index, byte[] Hashes)
{
    /// <summary>Hashes per full tile.</summary>
    public const int FullWidth = 256;

    /// <summary>Tree levels per tile level: a full tile is a perfect subtree of height 8 over its hashes.</summary>
    public const int Height = 8;

    /// <summary>Bytes of a full tile.</summary>
    public const int FullBytes = FullWidth * MerkleHasher.HashSize;

    public int Width => Hashes.Length / MerkleHasher.HashSize;

    public bool IsFull => Width == FullWidth;

    /// <summary>The hash at <paramref name="position"/> within this tile.</summary>
    public ReadOnlySpan<byte> Hash(int position) => Hashes.AsSpan(position * MerkleHasher.HashSize, MerkleHasher.HashSize);
}

/// <summary>
/// What one append changes in the stored tiles: full tiles completed (insert once), and per touched level the partial
/// tile that now stands at its right edge (<see cref="Tile.Width"/> 0: the level has no partial tile any more).
/// </summary>
public sealed record TileChanges(IReadOnlyList<Tile> FullTiles, IReadOnlyList<Tile> Partials)
{
    public static readonly TileChanges None = new([], []);
}
