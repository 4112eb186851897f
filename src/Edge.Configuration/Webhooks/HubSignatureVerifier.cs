using System.Security.Cryptography;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// GitHub and Meta/WhatsApp: <c>X-Hub-Signature-256: sha256=&lt;lower-case hex&gt;</c>, an HMAC-SHA256 of the raw body keyed
/// with the secret's UTF-8 bytes. GitHub deliveries carry their id in <c>X-GitHub-Delivery</c>; for Meta the signature is the id.
/// </summary>
internal sealed class HubSignatureVerifier(IReadOnlyList<byte[]> keys, string? deliveryHeader) : IWebhookVerifier
{
    public const string SignatureHeader = "X-Hub-Signature-256";
    public const string GitHubDeliveryHeader = "X-GitHub-Delivery";
    private const string Prefix = "sha256=";

    public IReadOnlyList<string> SignedHeaders { get; } = deliveryHeader is null ? [SignatureHeader] : [SignatureHeader, deliveryHeader];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers) =>
        SignatureBytes.Single(headers, SignatureHeader).Missing ? WebhookVerification.Missing("header_absent") : null;

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        var header = SignatureBytes.Single(headers, SignatureHeader);
        if (header.Missing)
        {
            return WebhookVerification.Missing("header_absent");
        }

        if (header.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        // Two delivery ids are ambiguous, not absent: a backend deduping on one of them would disagree with the edge.
        if (deliveryHeader is not null && SignatureBytes.Single(headers, deliveryHeader).IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        var text = header.Value!.AsSpan();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return WebhookVerification.Invalid("unsupported_prefix");
        }

        Span<byte> given = stackalloc byte[32];
        if (!SignatureBytes.TryDecodeLowerHex(text[Prefix.Length..], given, out var length) || length != 32)
        {
            return WebhookVerification.Invalid("malformed_hex");
        }

        Span<byte> expected = stackalloc byte[32];
        foreach (var key in keys)
        {
            SignatureBytes.Hmac(HashAlgorithmName.SHA256, key, [], body, expected);
            if (SignatureBytes.FixedTimeEquals(expected, given))
            {
                // Meta sends no delivery id: the verified signature identifies the exact delivery bytes.
                var id = deliveryHeader is null ? "sha256:" + Convert.ToHexStringLower(given) : SignatureBytes.Single(headers, deliveryHeader).Value;
                // X-GitHub-Delivery is not signed, so a captured delivery with a fresh id is caught by its signature.
                var signatureId = deliveryHeader is null ? null : WebhookVerification.SignatureIdOf(given);
                return WebhookVerification.Valid(deliveryId: id, signatureId: signatureId);
            }
        }

        return WebhookVerification.Invalid("mismatch");
    }
}
