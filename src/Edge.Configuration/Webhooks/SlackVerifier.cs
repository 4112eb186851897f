using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// Slack: <c>X-Slack-Signature: v0=&lt;hex&gt;</c> over <c>"v0:{X-Slack-Request-Timestamp}:" + body</c>, HMAC-SHA256 keyed with
/// the signing secret. Slack sends no delivery id, so a verified signature is its own id: a replay within the window
/// repeats it exactly.
/// </summary>
internal sealed class SlackVerifier(IReadOnlyList<byte[]> keys) : IWebhookVerifier
{
    public const string SignatureHeader = "X-Slack-Signature";
    public const string TimestampHeader = "X-Slack-Request-Timestamp";
    private const string Prefix = "v0=";

    public IReadOnlyList<string> SignedHeaders { get; } = [SignatureHeader, TimestampHeader];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers)
    {
        var signature = SignatureBytes.Single(headers, SignatureHeader);
        var timestampHeader = SignatureBytes.Single(headers, TimestampHeader);
        return signature.Missing || timestampHeader.Missing
            ? WebhookVerification.Missing(signature.Missing ? "header_absent" : "timestamp_absent")
            : null;
    }

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (MissingSignature(headers) is { } missing)
        {
            return missing;
        }

        var signature = SignatureBytes.Single(headers, SignatureHeader);
        var timestampHeader = SignatureBytes.Single(headers, TimestampHeader);
        if (signature.IsAmbiguous || timestampHeader.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        if (!UnixTimestamp.TryParse(timestampHeader.Value, out var timestamp))
        {
            return WebhookVerification.Invalid("timestamp_malformed");
        }

        var text = signature.Value!.AsSpan();
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return WebhookVerification.Invalid("unsupported_version");
        }

        Span<byte> given = stackalloc byte[32];
        if (!SignatureBytes.TryDecodeLowerHex(text[Prefix.Length..], given, out var length) || length != 32)
        {
            return WebhookVerification.Invalid("malformed_hex");
        }

        var prefix = Encoding.ASCII.GetBytes("v0:" + timestampHeader.Value + ":");
        Span<byte> expected = stackalloc byte[32];
        foreach (var key in keys)
        {
            SignatureBytes.Hmac(HashAlgorithmName.SHA256, key, prefix, body, expected);
            if (SignatureBytes.FixedTimeEquals(expected, given))
            {
                return WebhookVerification.Valid(timestamp, "v0:" + timestampHeader.Value + ":" + text[Prefix.Length..].ToString());
            }
        }

        return WebhookVerification.Invalid("mismatch");
    }
}
