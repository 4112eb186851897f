namespace Edge.Audit.Merkle;

/// <summary>
/// The right edge of a growing Merkle tree: one hash per perfect subtree, so an append costs
/// O(log n) hashing and O(log n) memory, and the root of the current size is always available.
/// </summary>
public sealed class CompactRange
{
    // _peaks[i] is the hash of a perfect subtree; sizes strictly decrease from left to right
    // and match the set bits of Size.
    private readonly List<byte[]> _peaks = [];

    public long Size { get; private set; }

    public void AppendLeaf(ReadOnlySpan<byte> leaf) => AppendLeafHash(MerkleHasher.HashLeaf(leaf));

    public void AppendLeafHash(byte[] leafHash)
    {
        ArgumentNullException.ThrowIfNull(leafHash);
        var hash = leafHash;
        var size = Size;
        // Each trailing one bit of the old size is a peak of equal height to merge with.
        while ((size & 1) == 1)
        {
            var left = _peaks[^1];
            _peaks.RemoveAt(_peaks.Count - 1);
            hash = MerkleHasher.HashChildren(left, hash);
            size >>= 1;
        }

        _peaks.Add(hash);
        Size++;
    }

    /// <summary>RFC 6962 MTH over all leaves appended so far.</summary>
    public byte[] Root()
    {
        if (_peaks.Count == 0)
        {
            return MerkleHasher.EmptyRoot.ToArray();
        }

        // Fold right to left: the unbalanced right side hangs under the nearest bigger peak.
        var hash = _peaks[^1];
        for (var i = _peaks.Count - 2; i >= 0; i--)
        {
            hash = MerkleHasher.HashChildren(_peaks[i], hash);
        }

        return hash;
    }
}
