using System.Text;
using Edge.Audit.Merkle;

namespace Edge.Audit.Tests.Merkle;

public sealed class ConsistencyProofTests
{
    private static readonly byte[][] ReferenceLeaves =
        [.. new[] { "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f" }.Select(Convert.FromHexString)];

    private static byte[] Root(int size) => Build(ReferenceLeaves).Root(size);

    private static MerkleTree Build(IEnumerable<byte[]> leaves)
    {
        var tree = new MerkleTree();
        foreach (var leaf in leaves)
        {
            tree.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
        }

        return tree;
    }

    // Proofs over RFC 6962's reference leaves, computed by an independent Python verifier from RFC 9162 §2.1.4.1.
    [Theory]
    [InlineData(3, 7, "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7 07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7 fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125 837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e")]
    [InlineData(4, 8, "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]
    [InlineData(1, 8, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7 5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e 6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]
    [InlineData(6, 8, "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0 d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    public void Verify_KnownAnswerProof_IsValidAndEveryAlterationIsNot(int first, int second, string proofHex)
    {
        var proof = proofHex.Split(' ').Select(Convert.FromHexString).ToList();

        Assert.Equal(proof, Build(ReferenceLeaves).ConsistencyProof(first, second));
        Assert.True(ConsistencyProof.Verify(first, second, Root(first), Root(second), proof));
        Assert.False(ConsistencyProof.Verify(first, second, Root(first - 1), Root(second), proof));
        Assert.False(ConsistencyProof.Verify(first, second, Root(first), Root(second - 1), proof));
        Assert.False(ConsistencyProof.Verify(first, second, Root(first), Root(second), proof.Take(proof.Count - 1).ToList()));
        Assert.False(ConsistencyProof.Verify(first, second, Root(first), Root(second), [.. proof, proof[0]]));
        for (var i = 0; i < proof.Count; i++)
        {
            var altered = proof.Select(h => h.ToArray()).ToList();
            altered[i][0] ^= 1;
            Assert.False(ConsistencyProof.Verify(first, second, Root(first), Root(second), altered));
        }
    }

    [Fact]
    public void Verify_EveryPairUpTo70_AcceptsTheTreesProofs()
    {
        var tree = Build(Enumerable.Range(0, 70).Select(i => Encoding.UTF8.GetBytes($"leaf-{i}")));
        for (var second = 0; second <= 70; second++)
        {
            for (var first = 0; first <= second; first++)
            {
                Assert.True(ConsistencyProof.Verify(first, second, tree.Root(first), tree.Root(second), tree.ConsistencyProof(first, second)), $"{first} -> {second}");
            }
        }
    }

    [Fact]
    public void Verify_ForkedHistoryOrShrinkingTree_IsRejected()
    {
        var tree = Build(Enumerable.Range(0, 20).Select(i => Encoding.UTF8.GetBytes($"leaf-{i}")));
        var forked = Build(Enumerable.Range(0, 8).Select(i => Encoding.UTF8.GetBytes(i == 7 ? "forged" : $"leaf-{i}")));

        Assert.False(ConsistencyProof.Verify(8, 20, forked.Root(), tree.Root(20), tree.ConsistencyProof(8, 20)));
        Assert.False(ConsistencyProof.Verify(20, 8, tree.Root(20), tree.Root(8), []));
        Assert.False(ConsistencyProof.Verify(8, 8, forked.Root(), tree.Root(8), []));
        Assert.False(ConsistencyProof.Verify(0, 8, tree.Root(0), tree.Root(8), tree.ConsistencyProof(4, 8)));
    }
}
