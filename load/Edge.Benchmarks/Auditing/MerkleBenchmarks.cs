using BenchmarkDotNet.Attributes;
using Edge.Audit.Merkle;

namespace Edge.Benchmarks.Auditing;

/// <summary>The writer's tree work per checkpoint: appending leaf hashes, the root, and an inclusion proof.</summary>
[MemoryDiagnoser]
public class MerkleBenchmarks
{
    private byte[][] _leafHashes = [];
    private MerkleTree _tree = null!;

    [Params(1_000, 100_000)]
    public int Leaves { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _leafHashes = [.. Enumerable.Range(0, Leaves).Select(i => MerkleHasher.HashLeaf(BitConverter.GetBytes(i)))];
        _tree = Build();
    }

    [Benchmark]
    public MerkleTree AppendAll() => Build();

    [Benchmark]
    public byte[] Root() => _tree.Root();

    [Benchmark]
    public IReadOnlyList<byte[]> InclusionProof() => _tree.InclusionProof(Leaves / 3, Leaves);

    private MerkleTree Build()
    {
        var tree = new MerkleTree();
        foreach (var hash in _leafHashes)
        {
            tree.AppendLeafHash(hash);
        }

        return tree;
    }
}
