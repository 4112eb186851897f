using System.Security.Cryptography;

namespace Edge.Audit.Merkle;

/// <summary>RFC 9162 §2.1.4.2: whether a consistency proof shows the tree of one size is a prefix of the tree of another.</summary>
public static class ConsistencyProof
{
    /// <summary>
    /// True when <paramref name="proof"/> proves that the tree of <paramref name="first"/> leaves with root
    /// <paramref name="firstRoot"/> is a prefix of the tree of <paramref name="second"/> leaves with root
    /// <paramref name="secondRoot"/>. Equal sizes need an empty proof and equal roots; size 0 is a prefix of anything.
    /// </summary>
    public static bool Verify(long first, long second, ReadOnlySpan<byte> firstRoot, ReadOnlySpan<byte> secondRoot, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (first < 0 || first > second || firstRoot.Length != MerkleHasher.HashSize || secondRoot.Length != MerkleHasher.HashSize
            || proof.Any(hash => hash.Length != MerkleHasher.HashSize))
        {
            return false;
        }

        if (first == second)
        {
            return proof.Count == 0 && CryptographicOperations.FixedTimeEquals(firstRoot, secondRoot);
        }

        if (first == 0)
        {
            return proof.Count == 0;
        }

        if (proof.Count == 0)
        {
            return false;
        }

        // A first tree that is a complete subtree is its own first node, which the proof leaves out.
        IReadOnlyList<byte[]> path = (first & (first - 1)) == 0 ? [firstRoot.ToArray(), .. proof] : proof;
        var fn = first - 1;
        var sn = second - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        var fr = path[0];
        var sr = path[0];
        foreach (var c in path.Skip(1))
        {
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = MerkleHasher.HashChildren(c, fr);
                sr = MerkleHasher.HashChildren(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = MerkleHasher.HashChildren(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && CryptographicOperations.FixedTimeEquals(fr, firstRoot) && CryptographicOperations.FixedTimeEquals(sr, secondRoot);
    }
}
