using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Standard Webhooks (and Svix, with <c>svix-</c> headers): <c>webhook-signature</c> is a space-separated list of
/// <c>v1,&lt;base64 HMAC-SHA256&gt;</c> and <c>v1a,&lt;base64 Ed25519&gt;</c> entries over <c>"{webhook-id}.{webhook-timestamp}." + body</c>.
/// Any entry of a supported version that verifies with any active key is accepted.
/// </summary>
internal sealed class StandardWebhooksVerifier(IReadOnlyList<byte[]> hmacKeys, IReadOnlyList<PublicKey> publicKeys) : IWebhookVerifier
{
    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        var prefix = headers.ContainsKey("webhook-signature") || !headers.ContainsKey("svix-signature") ? "webhook-" : "svix-";
        var id = SignatureBytes.Single(headers, prefix + "id");
        var timestampHeader = SignatureBytes.Single(headers, prefix + "timestamp");
        var signature = SignatureBytes.Single(headers, prefix + "signature");
        if (signature.Missing || id.Missing || timestampHeader.Missing)
        {
            return WebhookVerification.Missing(signature.Missing ? "header_absent" : id.Missing ? "id_absent" : "timestamp_absent");
        }

        if (signature.IsAmbiguous || id.IsAmbiguous || timestampHeader.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        if (!UnixTimestamp.TryParse(timestampHeader.Value, out var timestamp))
        {
            return WebhookVerification.Invalid("timestamp_malformed");
        }

        var signedPrefix = Encoding.UTF8.GetBytes(id.Value + "." + timestampHeader.Value + ".");
        byte[]? signedContent = null;
        var supported = 0;
        Span<byte> expected = stackalloc byte[32];
        Span<byte> given = stackalloc byte[64];
        foreach (var entry in signature.Value!.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = entry.IndexOf(',', StringComparison.Ordinal);
            if (comma <= 0)
            {
                continue;
            }

            var version = entry.AsSpan(0, comma);
            var encoded = entry.AsSpan(comma + 1);
            if (version.SequenceEqual("v1") && hmacKeys.Count > 0)
            {
                supported++;
                if (!SignatureBytes.TryDecodeBase64(encoded, given, out var length) || length != 32)
                {
                    continue;
                }

                foreach (var key in hmacKeys)
                {
                    SignatureBytes.Hmac(HashAlgorithmName.SHA256, key, signedPrefix, body, expected);
                    if (SignatureBytes.FixedTimeEquals(expected, given[..32]))
                    {
                        return WebhookVerification.Valid(timestamp, id.Value);
                    }
                }
            }
            else if (version.SequenceEqual("v1a") && publicKeys.Count > 0)
            {
                supported++;
                if (!SignatureBytes.TryDecodeBase64(encoded, given, out var length) || length != 64)
                {
                    continue;
                }

                signedContent ??= [.. signedPrefix, .. body];
                foreach (var key in publicKeys)
                {
                    if (SignatureAlgorithm.Ed25519.Verify(key, signedContent, given))
                    {
                        return WebhookVerification.Valid(timestamp, id.Value);
                    }
                }
            }
        }

        return WebhookVerification.Invalid(supported == 0 ? "no_supported_signature" : "mismatch");
    }
}
