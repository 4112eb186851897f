using System.Buffers.Binary;
using System.Globalization;
using NSec.Cryptography;

namespace Edge.Audit.Checkpoints;

/// <summary>An Ed25519 signed-note verifier key, in the form <c>name+hexid+base64(0x01||pub)</c>.</summary>
public sealed class NoteVerifier
{
    private readonly PublicKey _publicKey;

    private NoteVerifier(string name, uint keyId, PublicKey publicKey)
    {
        Name = name;
        KeyId = keyId;
        _publicKey = publicKey;
    }

    public string Name { get; }

    public uint KeyId { get; }

    public byte[] PublicKeyBytes => _publicKey.Export(KeyBlobFormat.RawPublicKey);

    public static NoteVerifier FromPublicKey(string name, ReadOnlySpan<byte> publicKey)
    {
        if (!NoteKeyId.IsValidName(name))
        {
            throw new FormatException("A key name must be non-empty without spaces or '+'.");
        }

        var key = PublicKey.Import(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey);
        return new NoteVerifier(name, NoteKeyId.Compute(name, publicKey), key);
    }

    public static NoteVerifier Parse(string verifierKey)
    {
        if (!TryParse(verifierKey, out var verifier, out var error))
        {
            throw new FormatException(error);
        }

        return verifier!;
    }

    /// <summary>True for a signer key (<c>PRIVATE+KEY+…</c>), which a verifier key's place must never take.</summary>
    public static bool IsSignerKey(string text) => text.TrimStart().StartsWith(NoteSigner.Prefix, StringComparison.Ordinal);

    public static bool TryParse(string verifierKey, out NoteVerifier? verifier, out string? error)
    {
        verifier = null;
        if (IsSignerKey(verifierKey))
        {
            // The writer keeps writer.key beside writer.key.pub: taking one for the other said only that the key id
            // ("KEY") was not hex.
            error = "this is the writer's signing key, not a verifier key; pass the verifier key (the writer writes it next to the signing key, as <KeyPath>.pub) and keep the signing key on the writer host.";
            return false;
        }

        var parts = verifierKey.Trim().Split('+', 3);
        if (parts.Length != 3 || !NoteKeyId.IsValidName(parts[0]))
        {
            error = "A verifier key is <name>+<hex key id>+<base64 key>.";
            return false;
        }

        if (parts[1].Length != 8 || !uint.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var keyId))
        {
            error = "The key id must be 8 hex digits.";
            return false;
        }

        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            error = "The key is not valid base64.";
            return false;
        }

        if (blob.Length != 33 || blob[0] != NoteKeyId.Ed25519Algorithm)
        {
            error = "Only Ed25519 keys (0x01 followed by 32 bytes) are supported.";
            return false;
        }

        if (NoteKeyId.Compute(parts[0], blob.AsSpan(1)) != keyId)
        {
            error = "The key id does not match the key.";
            return false;
        }

        if (!PublicKey.TryImport(SignatureAlgorithm.Ed25519, blob.AsSpan(1), KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            error = "The public key is not a valid Ed25519 key.";
            return false;
        }

        verifier = new NoteVerifier(parts[0], keyId, key);
        error = null;
        return true;
    }

    public override string ToString()
    {
        var blob = new byte[33];
        blob[0] = NoteKeyId.Ed25519Algorithm;
        PublicKeyBytes.CopyTo(blob, 1);
        return string.Create(CultureInfo.InvariantCulture, $"{Name}+{KeyId:x8}+{Convert.ToBase64String(blob)}");
    }

    internal bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signatureWithKeyId)
    {
        if (signatureWithKeyId.Length != 4 + 64 || BinaryPrimitives.ReadUInt32BigEndian(signatureWithKeyId) != KeyId)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(_publicKey, message, signatureWithKeyId[4..]);
    }
}
