using System.Security.Cryptography;
using System.Text;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Signs an outgoing delivery the Standard Webhooks way: <c>v1,</c> + base64 HMAC-SHA256 over
/// <c>"{webhook-id}.{webhook-timestamp}." + body</c>, keyed with the base64 payload of the <c>whsec_</c> secret.
/// </summary>
internal static class StandardWebhooksSigner
{
    public static string Sign(byte[] key, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(id + "." + timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return "v1," + Convert.ToBase64String(hmac.GetHashAndReset());
    }
}
