using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Edge.Testing.Signing;

/// <summary>
/// Independent sender-side signing for every scheme, written from the providers' documentation (not from the edge's
/// code), so a shared misunderstanding would show up as a failing vector test. The load tool signs with the same code.
/// </summary>
public static class WebhookSigner
{
    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static byte[] Concat(string prefix, byte[] body) => [.. Utf8(prefix), .. body];

    public static string HubSignature(string secret, byte[] body) => HubSignature(Utf8(secret), body);

    /// <summary>GitHub's <c>X-Hub-Signature-256</c>: <c>sha256=</c> + lowercase hex HMAC-SHA256 of the raw body, key = secret as UTF-8.</summary>
    public static string HubSignature(byte[] secretUtf8, ReadOnlySpan<byte> body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(secretUtf8, body));

    public static string Stripe(string secret, long timestamp, byte[] body, params string[] extraV1) =>
        $"t={timestamp}," + string.Join(",", extraV1.Select(s => "v1=" + s).Append("v1=" + Hex(HMACSHA256.HashData(Utf8(secret), Concat($"{timestamp}.", body)))));

    public static string Slack(string secret, long timestamp, byte[] body) =>
        "v0=" + Hex(HMACSHA256.HashData(Utf8(secret), Concat($"v0:{timestamp}:", body)));

    public static string StandardV1(string whsecSecret, string id, long timestamp, byte[] body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(whsecSecret["whsec_".Length..]), Concat($"{id}.{timestamp}.", body)));

    public static string StandardV1a(byte[] seed, string id, long timestamp, byte[] body)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        return "v1a," + Convert.ToBase64String(SignatureAlgorithm.Ed25519.Sign(key, Concat($"{id}.{timestamp}.", body)));
    }

    public static string PublicKey(byte[] seed)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        return "whpk_" + Convert.ToBase64String(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public static string GenericHexSha256(string secret, string id, long timestamp, byte[] body) =>
        "sha256=" + Hex(HMACSHA256.HashData(Utf8(secret), Concat($"{id}.{timestamp}.", body)));

    public static string GenericBase64Sha512(string secret, byte[] body) => Convert.ToBase64String(HMACSHA512.HashData(Utf8(secret), body));
}
