using System.Formats.Tar;
using System.Text;
using Edge.Audit.Bundles;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;
using Edge.Audit.Verification;

namespace Edge.Audit.Tests.Verification;

public sealed class BundleVerifierTests
{
    private static readonly byte[][] Leaves = [.. Enumerable.Range(0, 3).Select(i => Encoding.UTF8.GetBytes($"{{\"id\":\"r{i}\"}}"))];

    /// <summary>A bundle as docs/audit.md lays it out, of a three-record log, with the proofs chunk given by the caller.</summary>
    private static MemoryStream Bundle(
        NoteSigner signer, Func<IReadOnlyList<string>, IReadOnlyList<string>> editProofs, string? manifest = null,
        Func<IReadOnlyList<string>, IReadOnlyList<string>>? editRecords = null)
    {
        var tree = new MerkleTree();
        foreach (var leaf in Leaves)
        {
            tree.AppendLeafHash(MerkleHasher.HashLeaf(leaf));
        }

        var note = SignedNote.Sign(new Checkpoint(signer.Name, Leaves.Length, tree.Root()), [signer]);
        var proofs = Enumerable.Range(0, Leaves.Length)
            .Select(i => $"{{\"index\":{i},\"proof\":[{string.Join(',', tree.InclusionProof(i, Leaves.Length).Select(h => $"\"{Convert.ToBase64String(h)}\""))}]}}")
            .ToList();
        var stream = new MemoryStream();
        using (var tar = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true))
        {
            void Add(string name, string text)
            {
                var entry = new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) };
                tar.WriteEntry(entry);
            }

            Add(AuditBundle.CheckpointEntry, note);
            Add(AuditBundle.KeyEntry, signer.Verifier + "\n");
            var records = Leaves.Select(l => Encoding.UTF8.GetString(l)).ToList();
            Add(AuditBundle.RecordsEntry(0), string.Concat((editRecords ?? (r => r))(records).Select(l => l + "\n")));
            Add(AuditBundle.ProofsEntry(0), string.Concat(editProofs(proofs).Select(l => l + "\n")));
            Add(AuditBundle.ManifestEntry, manifest ?? $"{{\"format\":\"{AuditBundle.Format}\",\"treeSize\":{Leaves.Length},\"records\":{Leaves.Length},\"chunks\":1}}");
        }

        stream.Position = 0;
        return stream;
    }

    [Fact]
    public void Verify_UntouchedHandMadeBundle_IsValid()
    {
        using var signer = NoteSigner.Generate("test.edge/audit");
        using var bundle = Bundle(signer, proofs => proofs);

        var report = BundleVerifier.Verify(bundle, [signer.Verifier]);

        Assert.True(report.Valid, report.Problem);
        Assert.Equal(3, report.RecordsChecked);
    }

    [Fact]
    public void Verify_RecordLineRemovedItsProofKept_NamesTheRemovedIndex()
    {
        // Before: "chunk 0 has 2 records but 3 proofs", with no index. Each line is held against the proof beside it first.
        using var signer = NoteSigner.Generate("test.edge/audit");
        using var bundle = Bundle(signer, proofs => proofs, editRecords: records => [records[0], records[2]]);

        var report = BundleVerifier.Verify(bundle, [signer.Verifier]);

        Assert.False(report.Valid);
        Assert.Equal(1, report.FirstBadIndex);
        Assert.StartsWith("record 1: its bytes and inclusion proof do not lead to the signed root of size 3", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_RecordLineAddedAtTheEnd_FailsOnTheCounts()
    {
        using var signer = NoteSigner.Generate("test.edge/audit");
        using var bundle = Bundle(signer, proofs => proofs, editRecords: records => [.. records, records[2]]);

        var report = BundleVerifier.Verify(bundle, [signer.Verifier]);

        Assert.False(report.Valid);
        Assert.Equal("chunk 0 has 4 records but 3 proofs", report.Problem);
    }

    [Theory]
    [InlineData("{\"proof\":[]}")]
    [InlineData("{\"index\":1}")]
    [InlineData("{\"index\":\"1\",\"proof\":[]}")]
    [InlineData("{\"index\":1,\"proof\":[\"AAAA\"]}")]
    [InlineData("{\"index\":1,\"proof\":[42]}")]
    [InlineData("[1,[]]")]
    public void Verify_ProofLineWithoutIndexOrProof_FailsNamingTheLine(string proofLine)
    {
        // A proofs line without "index" threw KeyNotFoundException out of the verifier before: `edge audit verify --bundle`
        // ended in an unhandled exception and a stack trace instead of FAIL.
        using var signer = NoteSigner.Generate("test.edge/audit");
        using var bundle = Bundle(signer, proofs => [proofs[0], proofLine, proofs[2]]);

        var report = BundleVerifier.Verify(bundle, [signer.Verifier]);

        Assert.False(report.Valid);
        Assert.Equal("proofs/000000.ndjson line 2 is not {\"index\":<n>,\"proof\":[<base64 hash>,…]}", report.Problem);
    }

    [Theory]
    [InlineData("{\"treeSize\":3,\"records\":3,\"chunks\":1}")]
    [InlineData("{\"format\":\"urn:edge:audit:bundle:1\",\"records\":3,\"chunks\":1}")]
    [InlineData("{\"format\":\"urn:edge:audit:bundle:1\",\"treeSize\":3,\"chunks\":1}")]
    [InlineData("{\"format\":\"urn:edge:audit:bundle:1\",\"treeSize\":3,\"records\":3}")]
    [InlineData("{\"format\":\"urn:edge:audit:bundle:1\",\"treeSize\":3,\"records\":3,\"chunks\":1.5}")]
    [InlineData("{\"format\":1,\"treeSize\":3,\"records\":3,\"chunks\":1}")]
    [InlineData("[]")]
    public void Verify_ManifestWithAMemberMissingOrMistyped_FailsNamingTheManifest(string manifest)
    {
        // A manifest without "format" (or another member) threw KeyNotFoundException out of the verifier before:
        // `edge audit verify --bundle` printed a stack trace instead of FAIL.
        using var signer = NoteSigner.Generate("test.edge/audit");
        using var bundle = Bundle(signer, proofs => proofs, manifest);

        var report = BundleVerifier.Verify(bundle, [signer.Verifier]);

        Assert.False(report.Valid);
        Assert.Equal("manifest.json is not {\"format\":<string>,\"treeSize\":<n>,\"records\":<n>,\"chunks\":<n>}", report.Problem);
    }
}
