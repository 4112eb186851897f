using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Webhooks;

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
                case not null when name.StartsWith("header:", StringComparison.Ordinal) && HttpToken.IsToken(name.AsSpan(7)):
                    parts.Add(new TemplatePart(TemplatePartKind.Header, HeaderName: name[7..]));
                    break;
                case not null when name.StartsWith("header:", StringComparison.Ordinal) && name.Length > 7:
                    error = $"'{name[7..]}' in '{{{name}}}' is not a header name ({HttpToken.NameRule})";
                    return false;
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
