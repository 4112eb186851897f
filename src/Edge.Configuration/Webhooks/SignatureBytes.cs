using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Strict decoding of signature text and constant-time comparison. Signatures are compared as decoded bytes, so two
/// spellings of the same bytes cannot differ in timing, and a malformed spelling is refused rather than normalised.
/// </summary>
internal static class SignatureBytes
{
    /// <summary>Decodes lower-case hex only: the providers send lower-case, and accepting other spellings would hide tampering.</summary>
    public static bool TryDecodeLowerHex(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        if (text.Length == 0 || text.Length % 2 != 0 || text.Length / 2 > destination.Length)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f'))
            {
                return false;
            }
        }

        var status = Convert.FromHexString(text, destination, out _, out written);
        return status == System.Buffers.OperationStatus.Done;
    }

    /// <summary>Decodes canonical, padded base64 without whitespace (a truncated value does not decode).</summary>
    public static bool TryDecodeBase64(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        if (text.Length == 0 || text.Length % 4 != 0 || text.ContainsAny(" \t\r\n") || !Convert.TryFromBase64Chars(text, destination, out written))
        {
            return false;
        }

        // The decoder ignores the bits padding leaves unused ("AB==" reads as "AA=="): only the one spelling that encodes
        // the bytes is canonical. Signatures are at most 64 bytes, so the re-encoding stays on the stack.
        Span<char> canonical = stackalloc char[88];
        if (written > 64 || !Convert.TryToBase64Chars(destination[..written], canonical, out var length) || !canonical[..length].SequenceEqual(text))
        {
            written = 0;
            return false;
        }

        return true;
    }

    public static bool FixedTimeEquals(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual) =>
        expected.Length == actual.Length && CryptographicOperations.FixedTimeEquals(expected, actual);

    /// <summary>Compares secrets of any length without leaking the length: both sides are hashed first.</summary>
    public static bool TokenEquals(string expected, ReadOnlySpan<char> actual)
    {
        Span<byte> left = stackalloc byte[32];
        Span<byte> right = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(expected), left);
        var actualBytes = new byte[Encoding.UTF8.GetByteCount(actual)];
        Encoding.UTF8.GetBytes(actual, actualBytes);
        SHA256.HashData(actualBytes, right);
        return CryptographicOperations.FixedTimeEquals(left, right);
    }

    /// <summary>HMAC over <paramref name="prefix"/> followed by <paramref name="body"/>, without copying the body.</summary>
    public static int Hmac(HashAlgorithmName algorithm, byte[] key, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        using var hmac = IncrementalHash.CreateHMAC(algorithm, key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return hmac.GetHashAndReset(destination);
    }

    /// <summary>Reads a header that must be present exactly once; two copies are ambiguous and refused.</summary>
    public static HeaderValue Single(IHeaderDictionary headers, string name)
    {
        var values = headers[name];
        return values.Count switch
        {
            0 => new HeaderValue(null, Missing: true),
            1 when string.IsNullOrEmpty(values[0]) => new HeaderValue(null, Missing: true),
            1 => new HeaderValue(values[0], Missing: false),
            _ => new HeaderValue(null, Missing: false),
        };
    }

    internal readonly record struct HeaderValue(string? Value, bool Missing)
    {
        public bool IsAmbiguous => Value is null && !Missing;
    }
}
