using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Approval ids and tokens. A token is <c>{id}.{secret}</c>: the id finds the approval (one Redis key, so the check and
/// the consumption are one atomic script), the secret is 256 random bits of which only the SHA-256 is stored.
/// </summary>
internal static class ApprovalToken
{
    private const int IdBytes = 16;
    private const int SecretBytes = 32;

    private static readonly SearchValues<char> IdCharacters = SearchValues.Create("0123456789abcdef");
    private static readonly SearchValues<char> SecretCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes));

    public static bool IsId(ReadOnlySpan<char> id) => id.Length == IdBytes * 2 && !id.ContainsAnyExcept(IdCharacters);

    /// <summary>A new token for <paramref name="id"/> and the hash to store.</summary>
    public static (string Token, string Hash) Create(string id)
    {
        var secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(SecretBytes));
        return (id + "." + secret, HashSecret(secret));
    }

    public static bool TryParse(string? token, [NotNullWhen(true)] out string? id, [NotNullWhen(true)] out string? hash)
    {
        id = null;
        hash = null;
        if (token is null || token.Length > 128)
        {
            return false;
        }

        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0 || !IsId(token.AsSpan(0, dot)))
        {
            return false;
        }

        var secret = token.AsSpan(dot + 1);
        if (secret.Length != 43 || secret.ContainsAnyExcept(SecretCharacters))
        {
            return false;
        }

        id = token[..dot];
        hash = HashSecret(secret);
        return true;
    }

    /// <summary>Constant-time comparison of two stored-form hashes.</summary>
    public static bool HashEquals(string? stored, string presented) =>
        stored is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stored), Encoding.ASCII.GetBytes(presented));

    private static string HashSecret(ReadOnlySpan<char> secret)
    {
        Span<byte> utf8 = stackalloc byte[64];
        var length = Encoding.ASCII.GetBytes(secret, utf8);
        return Convert.ToHexStringLower(SHA256.HashData(utf8[..length]));
    }

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
