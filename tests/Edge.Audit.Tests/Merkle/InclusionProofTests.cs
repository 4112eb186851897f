using System.Text;
using Edge.Audit.Merkle;

namespace Edge.Audit.Tests.Merkle;

public sealed class InclusionProofTests
{
    private static MerkleTree Tree(int size)
    {
        var tree = new MerkleTree();
        for (var i = 0; i < size; i++)
        {
            tree.AppendLeafHash(MerkleHasher.HashLeaf(Encoding.ASCII.GetBytes($"leaf-{i}")));
        }

        return tree;
    }

    [Fact]
    public void RootFromProof_EveryIndexOfEverySizeUpTo33_EqualsTreeRoot()
    {
        var tree = Tree(33);
        for (var size = 1L; size <= 33; size++)
        {
            for (var index = 0L; index < size; index++)
            {
                var proof = tree.InclusionProof(index, size);

                var root = InclusionProof.RootFromProof(index, size, tree.LeafHash(index), proof);

                Assert.Equal(tree.Root(size), root);
                Assert.True(ReferenceProofVerifier.VerifyInclusion(index, size, tree.LeafHash(index), proof, root!));
            }
        }
    }

    [Fact]
    public void RootFromProof_OneFlippedBitInAnyProofHash_GivesAnotherRoot()
    {
        var tree = Tree(21);
        var proof = tree.InclusionProof(13, 21);
        for (var i = 0; i < proof.Count; i++)
        {
            var tampered = proof.Select(p => p.ToArray()).ToList();
            tampered[i][7] ^= 0x01;

            Assert.NotEqual(tree.Root(), InclusionProof.RootFromProof(13, 21, tree.LeafHash(13), tampered));
        }
    }

    [Fact]
    public void RootFromProof_ProofForAnotherIndex_GivesAnotherRoot()
    {
        var tree = Tree(21);

        Assert.NotEqual(tree.Root(), InclusionProof.RootFromProof(12, 21, tree.LeafHash(13), tree.InclusionProof(13, 21)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void RootFromProof_WrongProofLength_IsNull(int lengthChange)
    {
        var tree = Tree(21);
        var proof = tree.InclusionProof(13, 21).ToList();
        if (lengthChange < 0)
        {
            proof.RemoveAt(proof.Count - 1);
        }
        else
        {
            proof.Add(new byte[32]);
        }

        Assert.Null(InclusionProof.RootFromProof(13, 21, tree.LeafHash(13), proof));
    }

    [Fact]
    public void RootFromProof_IndexNotBelowSize_IsNull()
    {
        var tree = Tree(4);

        Assert.Null(InclusionProof.RootFromProof(4, 4, tree.LeafHash(3), tree.InclusionProof(3, 4)));
    }
}
