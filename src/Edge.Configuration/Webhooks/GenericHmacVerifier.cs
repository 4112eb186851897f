using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Webhooks;

/// <summary>
/// In-house senders: an HMAC (SHA-256 or SHA-512) in a configurable header, after an optional prefix, hex (lower-case)
/// or base64, over a signed-content template such as <c>{id}.{timestamp}.{body}</c>.
/// </summary>
internal sealed class GenericHmacVerifier(GenericHmacSettings settings, IReadOnlyList<byte[]> keys) : IWebhookVerifier
{
    public IReadOnlyList<string> SignedHeaders { get; } =
    [
        settings.SignatureHeader,
        .. new[] { settings.TimestampHeader, settings.IdHeader }.OfType<string>(),
        .. settings.Template.Where(p => p.Kind == TemplatePartKind.Header).Select(p => p.HeaderName!),
    ];

    public WebhookVerification? MissingSignature(IHeaderDictionary headers) =>
        ReadHeaders(headers, out _, out _, out _) is { Code: WebhookCodes.SignatureMissing } missing ? missing : null;

    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (ReadHeaders(headers, out var signature, out var timestamp, out var id) is { } verdict)
        {
            return verdict;
        }

        var text = signature.AsSpan();
        if (!text.StartsWith(settings.SignaturePrefix, StringComparison.Ordinal))
        {
            return WebhookVerification.Invalid("unsupported_prefix");
        }

        var size = settings.HashSize;
        Span<byte> given = stackalloc byte[64];
        var encoded = text[settings.SignaturePrefix.Length..];
        var decoded = settings.Base64
            ? SignatureBytes.TryDecodeBase64(encoded, given, out var length)
            : SignatureBytes.TryDecodeLowerHex(encoded, given, out length);
        if (!decoded || length != size)
        {
            return WebhookVerification.Invalid(settings.Base64 ? "malformed_base64" : "malformed_hex");
        }

        Span<byte> expected = stackalloc byte[64];
        foreach (var key in keys)
        {
            using var hmac = IncrementalHash.CreateHMAC(settings.Algorithm, key);
            foreach (var part in settings.Template)
            {
                switch (part.Kind)
                {
                    case TemplatePartKind.Literal:
                        hmac.AppendData(part.Literal!);
                        break;
                    case TemplatePartKind.Body:
                        hmac.AppendData(body);
                        break;
                    case TemplatePartKind.Id:
                        hmac.AppendData(Encoding.UTF8.GetBytes(id ?? ""));
                        break;
                    case TemplatePartKind.Timestamp:
                        hmac.AppendData(Encoding.UTF8.GetBytes(headers[settings.TimestampHeader!].ToString()));
                        break;
                    case TemplatePartKind.Header:
                        hmac.AppendData(Encoding.UTF8.GetBytes(headers[part.HeaderName!].ToString()));
                        break;
                }
            }

            hmac.GetHashAndReset(expected);
            if (SignatureBytes.FixedTimeEquals(expected[..size], given[..size]))
            {
                // Without a signed timestamp nothing but the signature distinguishes a replay (the id may be unsigned or absent).
                return WebhookVerification.Valid(timestamp, id, WebhookVerification.SignatureIdOf(given[..size]));
            }
        }

        return WebhookVerification.Invalid("mismatch");
    }

    /// <summary>
    /// The verdicts decided on the headers alone, in the order they are checked (one place, so that
    /// <see cref="MissingSignature"/> answers exactly when <see cref="Verify"/> would); null when the signature and the
    /// timestamp and id the template signs are there to check.
    /// </summary>
    private WebhookVerification? ReadHeaders(IHeaderDictionary headers, out string signature, out long? timestamp, out string? id)
    {
        signature = "";
        timestamp = null;
        id = null;
        var header = SignatureBytes.Single(headers, settings.SignatureHeader);
        if (header.Missing)
        {
            return WebhookVerification.Missing("header_absent");
        }

        if (header.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        if (settings.TimestampHeader is { } timestampName)
        {
            var value = SignatureBytes.Single(headers, timestampName);
            if (value.Missing)
            {
                return WebhookVerification.Missing("timestamp_absent");
            }

            if (!UnixTimestamp.TryParse(value.Value, out var parsed))
            {
                return WebhookVerification.Invalid("timestamp_malformed");
            }

            timestamp = parsed;
        }

        if (settings.IdHeader is { } idName)
        {
            var value = SignatureBytes.Single(headers, idName);
            if (value.Missing)
            {
                return WebhookVerification.Missing("id_absent");
            }

            if (value.IsAmbiguous)
            {
                return WebhookVerification.Invalid("header_repeated");
            }

            id = value.Value;
        }

        // The template signs the values joined with ',' ("acme,evil"), which two header lines also give; a backend
        // reading the first line ("acme") would trust a value the signature never covered alone.
        foreach (var part in settings.Template)
        {
            if (part.Kind == TemplatePartKind.Header && SignatureBytes.Single(headers, part.HeaderName!).IsAmbiguous)
            {
                return WebhookVerification.Invalid("header_repeated");
            }
        }

        signature = header.Value!;
        return null;
    }
}
