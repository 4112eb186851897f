namespace Edge.Audit.Merkle;

/// <summary>
/// RFC 9162 section 2.1.3 / 2.1.4 proof construction over any source of subtree hashes, so the in-memory tree and the
/// tile reader build their proofs by the same recursion and differ only in where MTH(D[start:end]) comes from.
/// </summary>
public static class MerkleProofs
{
    /// <summary>RFC 9162 PATH(index, D[0:size]), ordered from the leaf up.</summary>
    public static IReadOnlyList<byte[]> Inclusion(long index, long size, Func<long, long, byte[]> subtreeHash)
    {
        ArgumentNullException.ThrowIfNull(subtreeHash);
        if (index < 0 || index >= size)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "The index must be below the tree size.");
        }

        var proof = new List<byte[]>();
        Path(index, 0, size, subtreeHash, proof);
        return proof;
    }

    /// <summary>RFC 9162 PROOF(from, D[0:to]); empty when <paramref name="from"/> is 0 or equals <paramref name="to"/>.</summary>
    public static IReadOnlyList<byte[]> Consistency(long from, long to, Func<long, long, byte[]> subtreeHash)
    {
        ArgumentNullException.ThrowIfNull(subtreeHash);
        if (from < 0 || from > to)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from, "The old size must be between 0 and the new size.");
        }

        var proof = new List<byte[]>();
        if (from > 0 && from < to)
        {
            SubProof(from, 0, to, true, subtreeHash, proof);
        }

        return proof;
    }

    private static void Path(long index, long start, long end, Func<long, long, byte[]> subtreeHash, List<byte[]> proof)
    {
        var n = end - start;
        if (n <= 1)
        {
            return;
        }

        var k = MerkleHasher.SplitPoint(n);
        if (index < k)
        {
            Path(index, start, start + k, subtreeHash, proof);
            proof.Add(subtreeHash(start + k, end));
        }
        else
        {
            Path(index - k, start + k, end, subtreeHash, proof);
            proof.Add(subtreeHash(start, start + k));
        }
    }

    private static void SubProof(long m, long start, long end, bool startsAtOldRoot, Func<long, long, byte[]> subtreeHash, List<byte[]> proof)
    {
        var n = end - start;
        if (m == n)
        {
            if (!startsAtOldRoot)
            {
                proof.Add(subtreeHash(start, end));
            }

            return;
        }

        var k = MerkleHasher.SplitPoint(n);
        if (m <= k)
        {
            SubProof(m, start, start + k, startsAtOldRoot, subtreeHash, proof);
            proof.Add(subtreeHash(start + k, end));
        }
        else
        {
            SubProof(m - k, start + k, end, false, subtreeHash, proof);
            proof.Add(subtreeHash(start, start + k));
        }
    }
}
