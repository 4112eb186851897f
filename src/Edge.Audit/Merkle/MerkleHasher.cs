using System.Security.Cryptography;

namespace Edge.Audit.Merkle;

/// <summary>RFC 6962 / RFC 9162 hashing with SHA-256 and domain-separation prefixes.</summary>
public static class MerkleHasher
{
    public const int HashSize = 32;

    private static readonly byte[] s_emptyRoot = SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>The root of the empty tree: SHA-256 of nothing.</summary>
    public static ReadOnlySpan<byte> EmptyRoot => s_emptyRoot;

    public static byte[] HashLeaf(ReadOnlySpan<byte> leaf)
    {
        var hash = new byte[HashSize];
        HashLeaf(leaf, hash);
        return hash;
    }

    public static void HashLeaf(ReadOnlySpan<byte> leaf, Span<byte> destination)
    {
        if (leaf.Length < 8192)
        {
            // One-shot hashing of a copied buffer is several times cheaper than an IncrementalHash per leaf.
            var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(leaf.Length + 1);
            rented[0] = 0x00;
            leaf.CopyTo(rented.AsSpan(1));
            SHA256.HashData(rented.AsSpan(0, leaf.Length + 1), destination);
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            return;
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ReadOnlySpan<byte> prefix = [0x00];
        sha.AppendData(prefix);
        sha.AppendData(leaf);
        sha.GetHashAndReset(destination);
    }

    public static byte[] HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        var hash = new byte[HashSize];
        HashChildren(left, right, hash);
        return hash;
    }

    public static void HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        if (left.Length != HashSize || right.Length != HashSize)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            ReadOnlySpan<byte> prefix = [0x01];
            sha.AppendData(prefix);
            sha.AppendData(left);
            sha.AppendData(right);
            sha.GetHashAndReset(destination);
            return;
        }

        Span<byte> buffer = stackalloc byte[1 + HashSize + HashSize];
        buffer[0] = 0x01;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[(1 + HashSize)..]);
        SHA256.HashData(buffer, destination);
    }

    /// <summary>The largest power of two strictly below <paramref name="n"/> (n &gt; 1).</summary>
    public static long SplitPoint(long n)
    {
        if (n < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "A split needs at least two leaves.");
        }

        return 1L << (63 - (int)long.LeadingZeroCount(n - 1));
    }
}
