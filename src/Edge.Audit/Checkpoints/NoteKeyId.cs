using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Edge.Audit.Checkpoints;

internal static class NoteKeyId
{
    /// <summary>The signed-note algorithm byte for Ed25519.</summary>
    public const byte Ed25519Algorithm = 0x01;

    /// <summary>First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), big-endian.</summary>
    public static uint Compute(string name, ReadOnlySpan<byte> publicKey)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[nameBytes.Length + 2 + publicKey.Length];
        nameBytes.CopyTo(input, 0);
        input[nameBytes.Length] = 0x0A;
        input[nameBytes.Length + 1] = Ed25519Algorithm;
        publicKey.CopyTo(input.AsSpan(nameBytes.Length + 2));
        return BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(input));
    }

    /// <summary>Key names are non-empty and free of whitespace and '+', as signed-note requires.</summary>
    public static bool IsValidName(string name) =>
        name.Length > 0 && !name.Any(c => char.IsWhiteSpace(c) || c == '+');
}
