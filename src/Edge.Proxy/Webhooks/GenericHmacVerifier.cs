using System.Security.Cryptography;
using System.Text;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// In-house senders: an HMAC (SHA-256 or SHA-512) in a configurable header, after an optional prefix, hex (lower-case)
/// or base64, over a signed-content template such as <c>{id}.{timestamp}.{body}</c>.
/// </summary>
internal sealed class GenericHmacVerifier(GenericHmacSettings settings, IReadOnlyList<byte[]> keys) : IWebhookVerifier
{
    public WebhookVerification Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        var header = SignatureBytes.Single(headers, settings.SignatureHeader);
        if (header.Missing)
        {
            return WebhookVerification.Missing("header_absent");
        }

        if (header.IsAmbiguous)
        {
            return WebhookVerification.Invalid("header_repeated");
        }

        long? timestamp = null;
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

        string? id = null;
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

        var text = header.Value!.AsSpan();
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
                return WebhookVerification.Valid(timestamp, id);
            }
        }

        return WebhookVerification.Invalid("mismatch");
    }
}

internal enum TemplatePartKind
{
    Literal,
    Body,
    Id,
    Timestamp,
    Header,
}

internal sealed record TemplatePart(TemplatePartKind Kind, byte[]? Literal = null, string? HeaderName = null);

/// <summary>The parsed options of a Generic policy.</summary>
internal sealed record GenericHmacSettings(
    string SignatureHeader,
    string SignaturePrefix,
    HashAlgorithmName Algorithm,
    bool Base64,
    IReadOnlyList<TemplatePart> Template,
    string? TimestampHeader,
    string? IdHeader)
{
    public int HashSize => Algorithm == HashAlgorithmName.SHA512 ? 64 : 32;

    /// <summary>Parses <c>{id}.{timestamp}.{body}</c>-style templates; the error names the problem, never a secret.</summary>
    public static bool TryParseTemplate(string template, out List<TemplatePart> parts, out string error)
    {
        parts = [];
        error = "";
        var bodies = 0;
        var literal = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] != '{')
            {
                literal.Append(template[i]);
                continue;
            }

            var end = template.IndexOf('}', i);
            if (end < 0)
            {
                error = "unclosed '{' in SignedContent";
                return false;
            }

            if (literal.Length > 0)
            {
                parts.Add(new TemplatePart(TemplatePartKind.Literal, Encoding.UTF8.GetBytes(literal.ToString())));
                literal.Clear();
            }

            var name = template[(i + 1)..end];
            switch (name)
            {
                case "body":
                    bodies++;
                    parts.Add(new TemplatePart(TemplatePartKind.Body));
                    break;
                case "id":
                    parts.Add(new TemplatePart(TemplatePartKind.Id));
                    break;
                case "timestamp":
                    parts.Add(new TemplatePart(TemplatePartKind.Timestamp));
                    break;
                case not null when name.StartsWith("header:", StringComparison.Ordinal) && name.Length > 7:
                    parts.Add(new TemplatePart(TemplatePartKind.Header, HeaderName: name[7..]));
                    break;
                default:
                    error = $"unknown placeholder '{{{name}}}' in SignedContent; use {{body}}, {{id}}, {{timestamp}} or {{header:Name}}";
                    return false;
            }

            i = end;
        }

        if (literal.Length > 0)
        {
            parts.Add(new TemplatePart(TemplatePartKind.Literal, Encoding.UTF8.GetBytes(literal.ToString())));
        }

        if (bodies != 1)
        {
            error = "SignedContent must contain {body} exactly once";
            return false;
        }

        return true;
    }
}
