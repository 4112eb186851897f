using Edge.Audit.Merkle;
using Edge.Audit.Tiles;

namespace Edge.Audit.Tests.Tiles;

public sealed class TileHashReaderTests
{
    [Fact]
    public void Proofs_EverySizeTo1000_EqualTheFullTreesProofs()
    {
        var log = new TileTestLog();
        var tree = new MerkleTree();
        var random = new Random(42);
        var shared = new TileHashReader(log.Read, cachedTiles: 4);
        for (var size = 1; size <= 1000; size++)
        {
            log.AppendTo(size);
            tree.AppendLeafHash(log.LeafHashes[size - 1]);
            // A fresh reader per size, and one shared by all sizes (its cached tiles were read at smaller sizes).
            var reader = new TileHashReader(log.Read);
            Assert.Equal(tree.Root(size), reader.Root(size));
            Assert.Equal(tree.Root(size), shared.Root(size));
            foreach (var index in new long[] { 0, size - 1, random.NextInt64(size), random.NextInt64(size) })
            {
                Assert.Equal(tree.InclusionProof(index, size), reader.InclusionProof(index, size));
                Assert.Equal(tree.InclusionProof(index, size), shared.InclusionProof(index, size));
            }

            foreach (var from in new long[] { 0, 1, size, random.NextInt64(size + 1), random.NextInt64(size + 1) })
            {
                Assert.Equal(tree.ConsistencyProof(Math.Min(from, size), size), reader.ConsistencyProof(Math.Min(from, size), size));
            }
        }
    }

    [Fact]
    public void Proofs_RandomPairsAcrossLevelBoundaries_EqualTheFullTreesProofsAndVerify()
    {
        var log = new TileTestLog();
        log.AppendTo(70_000);
        var tree = new MerkleTree();
        foreach (var hash in log.LeafHashes)
        {
            tree.AppendLeafHash(hash);
        }

        // One reader for all: older sizes are read from tiles that grew since, as the writer does.
        var reader = new TileHashReader(log.Read, cachedTiles: 8);
        var random = new Random(7);
        long[] edges = [1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 65_792, 69_999, 70_000];
        var sizes = edges.Concat(Enumerable.Range(0, 200).Select(_ => random.NextInt64(1, 70_001))).ToList();
        foreach (var size in sizes)
        {
            Assert.Equal(tree.Root(size), reader.Root(size));
            var index = random.NextInt64(size);
            var inclusion = reader.InclusionProof(index, size);
            Assert.Equal(tree.InclusionProof(index, size), inclusion);
            Assert.True(Merkle.ReferenceProofVerifier.VerifyInclusion(index, size, log.LeafHashes[(int)index], inclusion, tree.Root(size)));
            var from = random.NextInt64(1, size + 1);
            var consistency = reader.ConsistencyProof(from, size);
            Assert.Equal(tree.ConsistencyProof(from, size), consistency);
            Assert.True(Merkle.ReferenceProofVerifier.VerifyConsistency(from, size, tree.Root(from), tree.Root(size), consistency));
        }

        foreach (var (from, to) in edges.SelectMany(a => edges.Where(b => b >= a).Select(b => (a, b))))
        {
            Assert.Equal(tree.ConsistencyProof(from, to), reader.ConsistencyProof(from, to));
        }
    }

    [Fact]
    public void Root_TileMissing_ThrowsInsteadOfAWrongHash()
    {
        var log = new TileTestLog();
        log.AppendTo(600);
        var reader = new TileHashReader((level, index) => level == 0 && index == 2 ? null : log.Read(level, index));

        Assert.Throws<InvalidOperationException>(() => reader.Root(600));
    }
}
