using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Standard Webhooks (and Svix, with <c>svix-</c> headers): <c>webhook-signature</c> is a space-separated list of
/// <c>v1,&lt;base64 HMAC-SHA256&gt;</c> and <c>v1a,&lt;base64 Ed25519&gt;</c> entries over <c>"{webhook-id}.{webhook-timestamp}." + body</c>.
/// Any entry of a supported version that verifies with any active key is accepted. Svix sends both header sets with the
/// same values; when both arrive, the <c>webhook-</c> set is verified and each <c>svix-</c> header must equal its twin
/// (and when only <c>svix-</c> headers carry the signature, each <c>webhook-</c> header sent must equal its twin), so
/// that a backend reading either set of names never receives values the edge did not verify.
/// </summary>
internal sealed class StandardWebhooksVerifier(IReadOnlyList<byte[]> hmacKeys, IReadOnlyList<PublicKey> publicKeys) : IWebhookVerifier
{
    public IReadOnlyList<string> SignedHeaders { get; } =
        ["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp", "svix-signature"];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers)
    {
        var prefix = HeaderPrefix(headers);
        var signature = SignatureBytes.Single(headers, prefix + "signature");
        var id = SignatureBytes.Single(headers, prefix + "id");
        var timestampHeader = SignatureBytes.Single(headers, prefix + "timestamp");
        return signature.Missing || id.Missing || timestampHeader.Missing
            ? WebhookVerification.Missing(signature.Missing ? "header_absent" : id.Missing ? "id_absent" : "timestamp_absent")
            : null;
    }

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (MissingSignature(headers) is { } missing)
        {
            return missing;
        }

        var prefix = HeaderPrefix(headers);
        var id = SignatureBytes.Single(headers, prefix + "id");
        var timestampHeader = SignatureBytes.Single(headers, prefix + "timestamp");
        var signature = SignatureBytes.Single(headers, prefix + "signature");
        if (signature.IsAmbiguous || id.IsAmbiguous || timestampHeader.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        // Either set may be the verified one (Svix alone sends only svix- names); the other set must repeat it exactly.
        var twin = prefix == "webhook-" ? "svix-" : "webhook-";
        if (Conflicts(headers, twin + "id", id.Value) || Conflicts(headers, twin + "timestamp", timestampHeader.Value) || Conflicts(headers, twin + "signature", signature.Value))
        {
            return WebhookVerification.Invalid("header_conflict");
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

    /// <summary>True when the twin of a verified header is present with another value (or more than once).</summary>
    private static bool Conflicts(IHeaderDictionary headers, string twinName, string? verified) =>
        headers.TryGetValue(twinName, out var twin) && (twin.Count != 1 || !string.Equals(twin[0], verified, StringComparison.Ordinal));

    /// <summary>The <c>webhook-</c> names, or Svix's <c>svix-</c> twins when only those carry a signature.</summary>
    private static string HeaderPrefix(IHeaderDictionary headers) =>
        headers.ContainsKey("webhook-signature") || !headers.ContainsKey("svix-signature") ? "webhook-" : "svix-";
}
