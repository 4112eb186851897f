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

    [Fact]
    public void TryParse_SignerKey_SaysItIsTheSigningKey()
    {
        using var signer = NoteSigner.Generate("edge.example/audit");

        Assert.False(NoteVerifier.TryParse(signer.ToString(), out _, out var error));
        Assert.StartsWith("this is the writer's signing key, not a verifier key", error, StringComparison.Ordinal);
    }

    // Known answers computed by an independent Python verifier written from C2SP signed-note/tlog-checkpoint and
    // RFC 9162 only (Python 'cryptography' Ed25519): seed 00 01 .. 1f, the tree of the reference's first 7 leaves.
    private const string KatPrivateKey = "PRIVATE+KEY+example.com/edge-kat+e9b71f5d+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
    private const string KatVerifierKey = "example.com/edge-kat+e9b71f5d+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    private const string KatNote = "example.com/edge-kat\n7\n3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=\n\n"
        + "\u2014 example.com/edge-kat 6bcfXfopRuXB3evJvYgqzmxW6z35CCXiwSihdKMv2Tsha1acHLUk34NazBgLL9dF4xM6fmH4bLbvDaxXNNC75QSEWAk=\n";

    [Fact]
    public void Sign_FixedKeyAndCheckpoint_MatchesIndependentImplementationByteForByte()
    {
        using var signer = NoteSigner.Parse(KatPrivateKey);
        var root = Convert.FromHexString("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c");

        var note = SignedNote.Sign(new Checkpoint("example.com/edge-kat", 7, root), [signer]);
        var opened = SignedNote.Open(KatNote, [NoteVerifier.Parse(KatVerifierKey)]);

        Assert.Equal(KatNote, note);
        Assert.Equal(KatVerifierKey, signer.Verifier.ToString());
        Assert.True(opened.Valid, opened.Error);
        Assert.Equal(7, opened.Checkpoint!.Size);
        Assert.Equal(root, opened.Checkpoint.Root);
    }

    [Fact]
    public void Verify_C2spSignedNoteSpecExample_Verifies()
    {
        // The example of c2sp.org/signed-note ("Verifier keys"): our key parsing and Ed25519 check against the spec's own vector.
        var verifier = NoteVerifier.Parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
        var signature = Convert.FromBase64String("Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=");

        Assert.True(verifier.Verify("This is an example message.\n"u8, signature));
        Assert.False(verifier.Verify("This is an example message!\n"u8, signature));
    }

    [Fact]
    public void Open_BlankLineButNoSignatureLines_FailsAsMalformedNote()
    {
        // Threw ArgumentOutOfRangeException before, which `edge audit verify --export` let escape as an unhandled exception.
        var unsigned = KatNote[..(KatNote.LastIndexOf("\n\n", StringComparison.Ordinal) + 2)];

        var result = SignedNote.Open(unsigned, [NoteVerifier.Parse(KatVerifierKey)]);

        Assert.False(result.Valid);
        Assert.Equal("malformed_note", result.ErrorCode);
        Assert.Contains("no signature lines", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\t")]
    [InlineData("\r")]
    public void Open_ControlCharacterAfterASignature_FailsAsMalformedNote(string control)
    {
        // signed-note forbids control characters but newline; the base64 decoder skipped them, so this verified before.
        var respelled = KatNote[..^1] + control + "\n";

        var result = SignedNote.Open(respelled, [NoteVerifier.Parse(KatVerifierKey)]);

        Assert.False(result.Valid);
        Assert.Equal("malformed_note", result.ErrorCode);
    }

    [Theory]
    [InlineData("example.com/edge-kat\n7\n3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=\n\nextension\n")]
    [InlineData("example.com/edge-kat\n7\n3bib5AOAnjJXUNPSY814 kpwpQreUKjS3fhIslZSnTIw=\n")]
    public void TryParseNoteText_EmptyExtensionLineOrSpaceInRoot_IsNotACheckpoint(string text)
    {
        Assert.False(Checkpoint.TryParseNoteText(text, out _));
        Assert.True(Checkpoint.TryParseNoteText("example.com/edge-kat\n7\n3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=\nextension\n", out var withExtension));
        Assert.Equal(7, withExtension!.Size);
    }
}
