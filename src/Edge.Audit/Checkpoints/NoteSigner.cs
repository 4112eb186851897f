using System.Buffers.Binary;
using System.Globalization;
using NSec.Cryptography;

namespace Edge.Audit.Checkpoints;

/// <summary>
/// An Ed25519 signed-note signer. Its text form is the Go <c>note</c> package's private key form,
/// <c>PRIVATE+KEY+name+hexid+base64(0x01||seed)</c>, so keys interoperate with public tooling.
/// </summary>
public sealed class NoteSigner : IDisposable
{
    internal const string Prefix = "PRIVATE+KEY+";
    private readonly Key _key;

    private NoteSigner(string name, Key key)
    {
        Name = name;
        _key = key;
        Verifier = NoteVerifier.FromPublicKey(name, key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public string Name { get; }

    public NoteVerifier Verifier { get; }

    /// <summary>Whether <paramref name="name"/> can name a key (signed-note: non-empty, no spaces, no '+').</summary>
    public static bool IsValidName(string name) => NoteKeyId.IsValidName(name);

    public static NoteSigner Generate(string name)
    {
        if (!NoteKeyId.IsValidName(name))
        {
            throw new FormatException("A key name must be non-empty without spaces or '+'.");
        }

        var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new NoteSigner(name, key);
    }

    public static NoteSigner Parse(string privateKey)
    {
        var text = privateKey.Trim();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw new FormatException("A signer key starts with PRIVATE+KEY+.");
        }

        var parts = text[Prefix.Length..].Split('+', 3);
        if (parts.Length != 3 || !NoteKeyId.IsValidName(parts[0]))
        {
            throw new FormatException("A signer key is PRIVATE+KEY+<name>+<hex key id>+<base64 key>.");
        }

        var blob = Convert.FromBase64String(parts[2]);
        if (blob.Length != 33 || blob[0] != NoteKeyId.Ed25519Algorithm)
        {
            throw new FormatException("Only Ed25519 signer keys are supported.");
        }

        var key = Key.Import(SignatureAlgorithm.Ed25519, blob.AsSpan(1), KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var signer = new NoteSigner(parts[0], key);
        if (!uint.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var keyId) || keyId != signer.Verifier.KeyId)
        {
            signer.Dispose();
            throw new FormatException("The key id does not match the key.");
        }

        return signer;
    }

    public override string ToString()
    {
        var blob = new byte[33];
        blob[0] = NoteKeyId.Ed25519Algorithm;
        _key.Export(KeyBlobFormat.RawPrivateKey).CopyTo(blob, 1);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Name}+{Verifier.KeyId:x8}+{Convert.ToBase64String(blob)}");
    }

    /// <summary>4-byte key id followed by the 64-byte Ed25519 signature.</summary>
    internal byte[] Sign(ReadOnlySpan<byte> message)
    {
        var result = new byte[4 + 64];
        BinaryPrimitives.WriteUInt32BigEndian(result, Verifier.KeyId);
        SignatureAlgorithm.Ed25519.Sign(_key, message, result.AsSpan(4));
        return result;
    }

    public void Dispose() => _key.Dispose();
}
