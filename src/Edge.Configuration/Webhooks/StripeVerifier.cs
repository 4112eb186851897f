using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Stripe: <c>Stripe-Signature: t=&lt;unix&gt;,v1=&lt;hex&gt;[,v1=…]</c>, an HMAC-SHA256 of <c>"{t}." + body</c> keyed with the
/// whole <c>whsec_…</c> string as UTF-8 (not base64-decoded). Any matching <c>v1</c> is accepted; other schemes are ignored.
/// </summary>
internal sealed class StripeVerifier(IReadOnlyList<byte[]> keys) : IWebhookVerifier
{
    public const string SignatureHeader = "Stripe-Signature";

    public IReadOnlyList<string> SignedHeaders { get; } = [SignatureHeader];

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

        string? timestampText = null;
        var signatures = new List<byte[]>(2);
        var malformed = false;
        foreach (var item in header.Value!.Split(','))
        {
            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return WebhookVerification.Invalid("malformed_header");
            }

            var key = item[..equals];
            var value = item[(equals + 1)..];
            if (key == "t")
            {
                if (timestampText is not null)
                {
                    return WebhookVerification.Invalid("timestamp_repeated");
                }

                timestampText = value;
            }
            else if (key == "v1")
            {
                var decoded = new byte[32];
                if (SignatureBytes.TryDecodeLowerHex(value, decoded, out var length) && length == 32)
                {
                    signatures.Add(decoded);
                }
                else
                {
                    malformed = true;
                }
            }
        }

        if (timestampText is null || !UnixTimestamp.TryParse(timestampText, out var timestamp))
        {
            return WebhookVerification.Invalid("timestamp_malformed");
        }

        if (signatures.Count == 0)
        {
            return malformed ? WebhookVerification.Invalid("malformed_hex") : WebhookVerification.Invalid("no_v1_signature");
        }

        var prefix = Encoding.ASCII.GetBytes(timestampText + ".");
        Span<byte> expected = stackalloc byte[32];
        foreach (var secret in keys)
        {
            SignatureBytes.Hmac(HashAlgorithmName.SHA256, secret, prefix, body, expected);
            foreach (var given in signatures)
            {
                if (SignatureBytes.FixedTimeEquals(expected, given))
                {
                    return WebhookVerification.Valid(timestamp);
                }
            }
        }

        return WebhookVerification.Invalid("mismatch");
    }
}
