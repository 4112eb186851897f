using System.Text;

namespace Edge.Audit.Checkpoints;

/// <summary>C2SP signed-note: a text, a blank line, then signature lines <c>— name base64(id||sig)</c>.</summary>
public static class SignedNote
{
    private const string SignaturePrefix = "\u2014 ";

    public static string Sign(Checkpoint checkpoint, IEnumerable<NoteSigner> signers)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var text = checkpoint.ToNoteText();
        var message = Encoding.UTF8.GetBytes(text);
        var builder = new StringBuilder(text).Append('\n');
        var any = false;
        foreach (var signer in signers)
        {
            builder.Append(SignaturePrefix).Append(signer.Name).Append(' ')
                .Append(Convert.ToBase64String(signer.Sign(message))).Append('\n');
            any = true;
        }

        if (!any)
        {
            throw new ArgumentException("A signed note needs at least one signer.", nameof(signers));
        }

        return builder.ToString();
    }

    /// <summary>
    /// Opens a note: it must parse, and at least one signature must come from a known verifier and be valid.
    /// Signatures by unknown keys are ignored (rotation by overlap); a bad signature by a known key fails.
    /// </summary>
    public static NoteVerification Open(string note, IReadOnlyCollection<NoteVerifier> verifiers)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(verifiers);
        var split = note.LastIndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0 || !note.EndsWith('\n'))
        {
            return NoteVerification.Fail("malformed_note", "The note has no signature block.");
        }

        // C2SP signed-note: no control character but newline. Without this a tab or carriage return after a signature
        // was accepted (the base64 decoder skips whitespace), so one signed note had many spellings.
        if (note.AsSpan().IndexOfAnyInRange('\0', '\t') >= 0 || note.AsSpan().IndexOfAnyInRange('\v', '\u001f') >= 0)
        {
            return NoteVerification.Fail("malformed_note", "The note holds a control character other than newline.");
        }

        if (split + 2 == note.Length)
        {
            return NoteVerification.Fail("malformed_note", "The note has no signature lines.");
        }

        var text = note[..(split + 1)];
        if (!Checkpoint.TryParseNoteText(text, out var checkpoint))
        {
            return NoteVerification.Fail("malformed_checkpoint", "The note text is not a checkpoint.");
        }

        var message = Encoding.UTF8.GetBytes(text);
        var verifiedBy = new List<string>();
        foreach (var line in note[(split + 2)..^1].Split('\n'))
        {
            if (!line.StartsWith(SignaturePrefix, StringComparison.Ordinal))
            {
                return NoteVerification.Fail("malformed_signature", "A signature line does not start with an em dash.");
            }

            var fields = line[SignaturePrefix.Length..].Split(' ');
            if (fields.Length != 2)
            {
                return NoteVerification.Fail("malformed_signature", "A signature line is '— <name> <base64>'.");
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[1]);
            }
            catch (FormatException)
            {
                return NoteVerification.Fail("malformed_signature", "A signature is not valid base64.");
            }

            if (blob.Length < 4)
            {
                return NoteVerification.Fail("malformed_signature", "A signature is too short.");
            }

            var keyId = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(blob);
            var verifier = verifiers.FirstOrDefault(v => v.Name == fields[0] && v.KeyId == keyId);
            if (verifier is null)
            {
                continue;
            }

            if (!verifier.Verify(message, blob))
            {
                return NoteVerification.Fail("bad_signature", $"The signature by '{verifier.Name}' does not verify.");
            }

            verifiedBy.Add(verifier.Name);
        }

        return verifiedBy.Count == 0
            ? NoteVerification.Fail("unknown_signer", "No signature by a known key.")
            : new NoteVerification(true, checkpoint, null, null);
    }
}

public sealed record NoteVerification(bool Valid, Checkpoint? Checkpoint, string? ErrorCode, string? Error)
{
    internal static NoteVerification Fail(string code, string error) => new(false, null, code, error);
}
