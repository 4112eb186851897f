namespace Edge.Audit.Merkle;

/// <summary>RFC 9162 §2.1.3.2: the root an inclusion proof (audit path, leaf to root) implies for one leaf.</summary>
public static class InclusionProof
{
    /// <summary>
    /// The root of a tree of <paramref name="treeSize"/> leaves implied by the leaf hash and the proof, or null when
    /// the proof has the wrong length for that index and size (so it cannot prove anything).
    /// </summary>
    public static byte[]? RootFromProof(long leafIndex, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (leafIndex < 0 || leafIndex >= treeSize || leafHash.Length != MerkleHasher.HashSize)
        {
            return null;
        }

        var fn = leafIndex;
        var sn = treeSize - 1;
        var root = leafHash.ToArray();
        foreach (var sibling in proof)
        {
            if (sn == 0 || sibling.Length != MerkleHasher.HashSize)
            {
                return null;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                root = MerkleHasher.HashChildren(sibling, root);
                // A right-edge node with no right sibling moves up without hashing until it is a right child.
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                root = MerkleHasher.HashChildren(root, sibling);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 ? root : null;
    }
}
