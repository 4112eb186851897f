using System.Security.Cryptography;
using System.Text;
using Edge.Audit.Checkpoints;

namespace Edge.Audit.Tests.Checkpoints;

public sealed class SignedNoteTests
{
    private static Checkpoint SampleCheckpoint() => new("edge.example/audit", 42, SHA256.HashData("root"u8));

    [Fact]
    public void Open_SignedByKnownKey_ReturnsCheckpoint()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        var note = SignedNote.Sign(SampleCheckpoint(), [signer]);

        var result = SignedNote.Open(note, [signer.Verifier]);

        Assert.True(result.Valid, result.Error);
        Assert.Equal(42, result.Checkpoint!.Size);
        Assert.Equal(SampleCheckpoint().Root, result.Checkpoint.Root);
        Assert.StartsWith("edge.example/audit\n42\n", note, StringComparison.Ordinal);
        Assert.Contains("\n\n\u2014 edge.example/audit ", note, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ForgedSize_IsRejectedAsBadSignature()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        var forged = SignedNote.Sign(SampleCheckpoint(), [signer]).Replace("\n42\n", "\n43\n", StringComparison.Ordinal);

        var result = SignedNote.Open(forged, [signer.Verifier]);

        Assert.False(result.Valid);
        Assert.Equal("bad_signature", result.ErrorCode);
    }

    [Fact]
    public void Open_SignedByAnotherKeyWithTheSameName_IsRejected()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        using var impostor = NoteSigner.Generate("edge.example/audit");
        var note = SignedNote.Sign(SampleCheckpoint(), [impostor]);

        var result = SignedNote.Open(note, [signer.Verifier]);

        Assert.False(result.Valid);
        Assert.Equal("unknown_signer", result.ErrorCode);
    }

    [Fact]
    public void Open_TwoSignatureLinesDuringRotation_VerifiesWithEitherKey()
    {
        using var oldKey = NoteSigner.Generate("edge.example/audit");
        using var newKey = NoteSigner.Generate("edge.example/audit-2026");
        var note = SignedNote.Sign(SampleCheckpoint(), [oldKey, newKey]);

        Assert.Equal(2, note.Split('\n').Count(line => line.StartsWith('\u2014')));
        Assert.True(SignedNote.Open(note, [oldKey.Verifier]).Valid);
        Assert.True(SignedNote.Open(note, [newKey.Verifier]).Valid);
    }

    [Fact]
    public void VerifierKey_RoundTrip_HasNoteFormatAndKeyId()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        var text = signer.Verifier.ToString();
        var parts = text.Split('+', 3);

        Assert.Equal("edge.example/audit", parts[0]);
        var blob = Convert.FromBase64String(parts[2]);
        Assert.Equal(33, blob.Length);
        Assert.Equal(0x01, blob[0]);
        var expectedId = SHA256.HashData([.. Encoding.UTF8.GetBytes("edge.example/audit"), 0x0A, 0x01, .. blob[1..]]);
        Assert.Equal(Convert.ToHexStringLower(expectedId[..4]), parts[1]);
        Assert.Equal(text, NoteVerifier.Parse(text).ToString());
    }

    [Fact]
    public void SignerKey_RoundTripThroughText_SignsVerifiably()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        using var restored = NoteSigner.Parse(signer.ToString());

        var note = SignedNote.Sign(SampleCheckpoint(), [restored]);

        Assert.True(SignedNote.Open(note, [signer.Verifier]).Valid);
        Assert.StartsWith("PRIVATE+KEY+edge.example/audit+", signer.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_KeyIdNotMatchingKey_Fails()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");
        var parts = signer.Verifier.ToString().Split('+', 3);
        var wrong = $"{parts[0]}+00000000+{parts[2]}";

        Assert.False(NoteVerifier.TryParse(wrong, out _, out var error));
        Assert.Contains("key id", error, StringComparison.Ordinal);
    }
}
