using System.Text;
using Edge.Audit.Merkle;

namespace Edge.Audit.Tests.Merkle;

public sealed class MerkleTreeTests
{
    private static readonly string[] s_leavesHex = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    private static readonly string[] s_roots =
    [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    [Fact]
    public void HashLeaf_ReferenceVector_Matches()
    {
        Assert.Equal("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56",
            Convert.ToHexStringLower(MerkleHasher.HashLeaf(Encoding.ASCII.GetBytes("L123456"))));
    }

    [Fact]
    public void HashChildren_ReferenceVector_Matches()
    {
        Assert.Equal("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb",
            Convert.ToHexStringLower(MerkleHasher.HashChildren(Encoding.ASCII.GetBytes("N123"), Encoding.ASCII.GetBytes("N456"))));
    }

    [Fact]
    public void Root_ReferenceLeaves0To8_MatchesReferenceRoots()
    {
        var tree = new MerkleTree();
        var range = new CompactRange();
        Assert.Equal(s_roots[0], Convert.ToHexStringLower(tree.Root()));
        Assert.Equal(s_roots[0], Convert.ToHexStringLower(range.Root()));
        for (var n = 1; n <= 8; n++)
        {
            var leaf = Convert.FromHexString(s_leavesHex[n - 1]);
            tree.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
            range.AppendLeaf(leaf);
            Assert.Equal(s_roots[n], Convert.ToHexStringLower(tree.Root()));
            Assert.Equal(s_roots[n], Convert.ToHexStringLower(range.Root()));
        }

        for (var n = 0; n <= 8; n++)
        {
            Assert.Equal(s_roots[n], Convert.ToHexStringLower(tree.Root(n)));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AppendLeafHash_RandomBatchSizes_RootsAndProofsEqualAFullRebuild(int seed)
    {
        // The writer grows its tree batch by batch and never rebuilds it while running; a restart rebuilds it from the
        // store. Both must give the same roots and proofs, checked against RFC 9162's recursive definition.
        var random = new Random(seed);
        var leaves = Leaves(4_000 + random.Next(1_000));
        var incremental = new MerkleTree();
        long previous = 0;
        byte[] previousRoot = MerkleHasher.EmptyRoot.ToArray();
        while (incremental.Size < leaves.Count)
        {
            var batch = Math.Min(leaves.Count - (int)incremental.Size, random.Next(1, 700));
            foreach (var leaf in leaves.Skip((int)incremental.Size).Take(batch))
            {
                incremental.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
            }

            var size = incremental.Size;
            var rebuilt = new MerkleTree();
            foreach (var leaf in leaves.Take((int)size))
            {
                rebuilt.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
            }

            var expected = ReferenceProofVerifier.Root(leaves.Take((int)size).ToList());
            Assert.Equal(expected, incremental.Root());
            Assert.Equal(expected, rebuilt.Root());
            var index = random.NextInt64(size);
            Assert.Equal(rebuilt.InclusionProof(index, size), incremental.InclusionProof(index, size));
            Assert.True(ReferenceProofVerifier.VerifyInclusion(index, size, ReferenceProofVerifier.Leaf(leaves[(int)index]), incremental.InclusionProof(index, size), expected));
            if (previous > 0)
            {
                Assert.True(ReferenceProofVerifier.VerifyConsistency(previous, size, previousRoot, expected, incremental.ConsistencyProof(previous, size)));
            }

            (previous, previousRoot) = (size, expected);
        }
    }

    [Fact]
    public void Root_UpTo130Leaves_EqualsNaiveRecursiveRootAndCompactRange()
    {
        var leaves = Leaves(130);
        var tree = new MerkleTree();
        var range = new CompactRange();
        for (var n = 1; n <= leaves.Count; n++)
        {
            tree.AppendLeafHash(MerkleHasher.HashLeaf(leaves[n - 1]));
            range.AppendLeaf(leaves[n - 1]);
            var expected = ReferenceProofVerifier.Root(leaves.Take(n).ToList());
            Assert.Equal(expected, tree.Root());
            Assert.Equal(expected, range.Root());
        }
    }

    [Fact]
    public void InclusionProof_EveryIndexAndSizeUpTo64_VerifiesWithReferenceVerifier()
    {
        var leaves = Leaves(64);
        var tree = BuildTree(leaves);
        var checkedProofs = 0;
        for (var size = 1; size <= 64; size++)
        {
            var root = ReferenceProofVerifier.Root(leaves.Take(size).ToList());
            for (var index = 0; index < size; index++)
            {
                var proof = tree.InclusionProof(index, size);
                Assert.True(ReferenceProofVerifier.VerifyInclusion(index, size, ReferenceProofVerifier.Leaf(leaves[index]), proof, root),
                    $"inclusion index={index} size={size}");
                checkedProofs++;
            }
        }

        Assert.Equal(64 * 65 / 2, checkedProofs);
    }

    [Fact]
    public void InclusionProof_WrongLeafOrAlteredPath_IsRejected()
    {
        var leaves = Leaves(13);
        var tree = BuildTree(leaves);
        var root = tree.Root();
        var proof = tree.InclusionProof(5, 13).Select(h => h.ToArray()).ToList();
        Assert.False(ReferenceProofVerifier.VerifyInclusion(5, 13, ReferenceProofVerifier.Leaf(leaves[6]), proof, root));
        proof[1][0] ^= 1;
        Assert.False(ReferenceProofVerifier.VerifyInclusion(5, 13, ReferenceProofVerifier.Leaf(leaves[5]), proof, root));
    }

    [Fact]
    public void ConsistencyProof_EveryPairUpTo64_VerifiesWithReferenceVerifier()
    {
        var leaves = Leaves(64);
        var tree = BuildTree(leaves);
        var roots = Enumerable.Range(0, 65).Select(n => ReferenceProofVerifier.Root(leaves.Take(n).ToList())).ToArray();
        for (var n = 1; n <= 64; n++)
        {
            for (var m = 1; m <= n; m++)
            {
                var proof = tree.ConsistencyProof(m, n);
                Assert.True(ReferenceProofVerifier.VerifyConsistency(m, n, roots[m], roots[n], proof), $"consistency m={m} n={n}");
            }
        }
    }

    [Fact]
    public void ConsistencyProof_ForkedHistory_IsRejected()
    {
        var leaves = Leaves(20);
        var tree = BuildTree(leaves);
        var forked = leaves.Take(7).Append([0xFF]).ToList();
        var forkedRoot = ReferenceProofVerifier.Root(forked);
        Assert.False(ReferenceProofVerifier.VerifyConsistency(8, 20, forkedRoot, tree.Root(), tree.ConsistencyProof(8, 20)));
    }

    private static List<byte[]> Leaves(int count) =>
        Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetBytes($"leaf-{i}")).ToList();

    private static MerkleTree BuildTree(List<byte[]> leaves)
    {
        var tree = new MerkleTree();
        foreach (var leaf in leaves)
        {
            tree.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
        }

        return tree;
    }
}
