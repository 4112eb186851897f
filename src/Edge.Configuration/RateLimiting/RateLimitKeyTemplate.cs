using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.RateLimiting;

/// <summary>
/// A parsed partition key template such as <c>{tenant}:{principal}</c>. Resolved values that are not short and made of
/// <c>[A-Za-z0-9._@-]</c> are replaced by a hash, so a value can never contain <c>:</c>, <c>{</c> or <c>}</c>; and two
/// placeholders must be separated by literal text containing <c>:</c>: the resolved key is unambiguous (no two different
/// sets of values make the same key) and the Redis hash tag cannot be broken by client input.
/// </summary>
internal sealed class RateLimitKeyTemplate : IEquatable<RateLimitKeyTemplate>
{
    /// <summary>The body part when no buffered body is available (never a crash, never another sender's bucket).</summary>
    public const string UnverifiedBody = "~unverified";
    public const string Missing = "~none";

    private const int MaxSafeLength = 64;

    private static readonly SearchValues<char> SafeValueChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-");

    private static readonly SearchValues<char> LiteralChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");

    private readonly Segment[] _segments;

    private RateLimitKeyTemplate(string text, Segment[] segments)
    {
        Text = text;
        _segments = segments;
        ContainsTenant = segments.Any(s => s.Kind == SegmentKind.Tenant);
        UsesBody = segments.Any(s => s.Kind == SegmentKind.Body);
        UsesStepState = segments.Any(s => s.Kind is SegmentKind.Tenant or SegmentKind.Principal or SegmentKind.Body);
        HeaderNames = [.. segments.Where(s => s.Kind == SegmentKind.Header).Select(s => s.Argument).Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    public string Text { get; }

    /// <summary>The parsed parts, in order; the edge resolves them per request.</summary>
    internal IReadOnlyList<Segment> Segments => _segments;

    public bool ContainsTenant { get; }

    public bool UsesBody { get; }

    /// <summary>The headers the key reads (<c>{header:Name}</c>), each once; empty for most keys. An array: indexed per request.</summary>
    public string[] HeaderNames { get; }

    /// <summary>True when a part ({tenant}, {principal}, {body:...}) is only known once the edge steps have run.</summary>
    public bool UsesStepState { get; }

    internal enum SegmentKind
    {
        Literal,
        Tenant,
        Principal,
        Ip,
        Route,
        Header,
        Body,
    }

    public static RateLimitKeyTemplate? TryParse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the key template is empty; use placeholders such as {tenant}:{principal}";
            return null;
        }

        var segments = new List<Segment>();
        var position = 0;
        // The placeholder before this one and whether a ':' came since: a value never holds ':', but it may hold every
        // other literal character, so only a ':' tells where one value ends and the next begins.
        string? previous = null;
        var separated = false;
        while (position < text.Length)
        {
            var open = text.IndexOf('{', position);
            var literalEnd = open < 0 ? text.Length : open;
            if (literalEnd > position)
            {
                var literal = text[position..literalEnd];
                if (literal.AsSpan().ContainsAnyExcept(LiteralChars))
                {
                    error = $"literal text '{literal}' may only contain [A-Za-z0-9._:-]";
                    return null;
                }

                separated |= literal.Contains(':', StringComparison.Ordinal);
                segments.Add(new Segment(SegmentKind.Literal, literal));
            }

            if (open < 0)
            {
                break;
            }

            var close = text.IndexOf('}', open);
            if (close < 0)
            {
                error = $"unclosed '{{' at position {open}";
                return null;
            }

            var placeholder = text[(open + 1)..close];
            var segment = ParsePlaceholder(placeholder, out error);
            if (segment is null)
            {
                return null;
            }

            var current = text[open..(close + 1)];
            if (previous is not null && !separated)
            {
                // "{tenant}-{principal}": tenant "acme-eu" with principal "bob" and tenant "acme" with principal "eu-bob"
                // would resolve to one partition, and two tenants (or two clients) would share a bucket.
                error = $"{previous} and {current} must be separated by text containing ':' (values may contain '.', '_', '-' and '@', so without it two different pairs of values can make the same key); e.g. {previous}:{current}";
                return null;
            }

            previous = current;
            separated = false;
            segments.Add(segment);
            position = close + 1;
        }

        return new RateLimitKeyTemplate(text, [.. segments]);
    }

    public bool Equals(RateLimitKeyTemplate? other) => other is not null && string.Equals(Text, other.Text, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as RateLimitKeyTemplate);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);

    public override string ToString() => Text;

    /// <summary>
    /// A tenant or principal as partitions and ban keys hold it: in lower case, then encoded. A tenant is taken as sent
    /// (header, path or claim) and many backends read it without regard to case, so <c>Acme</c> and <c>acme</c> share one
    /// bucket and one ban; a principal as four-eyes compares it, so an API key's <c>Alice</c> and a JWT's subject
    /// <c>alice</c> do too. The identity itself stays as sent. Allocates only when the value has an upper-case letter
    /// or is hashed.
    /// </summary>
    internal static string EncodeLowerCase(string? value)
    {
        Span<char> lower = stackalloc char[MaxSafeLength];
        var written = LowerCaseKeptAsIs(value, lower);
        if (written < 0)
        {
            return Encode(value?.ToLowerInvariant());
        }

        return lower[..written].SequenceEqual(value) ? value! : new string(lower[..written]);
    }

    /// <summary>
    /// The one place tenants and principals are lower-cased: writes <paramref name="value"/> in lower case to
    /// <paramref name="destination"/> (at least <see cref="MaxKeptLength"/> long) and returns its length when
    /// <see cref="Encode"/> keeps it as is; -1 when it is missing or hashed (<see cref="EncodeLowerCase"/> gives it then).
    /// A span, so a per-request key is built without a lower-cased copy on the heap.
    /// </summary>
    internal static int LowerCaseKeptAsIs(ReadOnlySpan<char> value, Span<char> destination)
    {
        if (value.Length is 0 or > MaxSafeLength)
        {
            return -1;
        }

        var written = value.ToLowerInvariant(destination);
        return written > 0 && !destination[..written].ContainsAnyExcept(SafeValueChars) ? written : -1;
    }

    /// <summary>The longest value <see cref="Encode"/> keeps as it is.</summary>
    internal const int MaxKeptLength = MaxSafeLength;

    internal static string Encode(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return Missing;
        }

        if (value.Length <= MaxSafeLength && !value.AsSpan().ContainsAnyExcept(SafeValueChars))
        {
            return value;
        }

        // '~' is not a safe character, so a hashed value never equals a value used as-is.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
        return "~" + Convert.ToBase64String(hash, 0, 16).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static Segment? ParsePlaceholder(string placeholder, out string? error)
    {
        error = null;
        var colon = placeholder.IndexOf(':');
        var name = colon < 0 ? placeholder : placeholder[..colon];
        var argument = colon < 0 ? null : placeholder[(colon + 1)..];
        switch (name.ToLowerInvariant())
        {
            case "tenant" when argument is null:
                return new Segment(SegmentKind.Tenant, "");
            case "principal" when argument is null:
                return new Segment(SegmentKind.Principal, "");
            case "ip" when argument is null:
                return new Segment(SegmentKind.Ip, "");
            case "route" when argument is null:
                return new Segment(SegmentKind.Route, "");
            case "header" when HttpToken.IsToken(argument) && EdgeOwnedHeaders.WhyOwned(argument!) is { } owned:
                // X-Request-Id gave every request a bucket of its own (no limit at all); a removed header put every
                // client into one.
                error = $"{owned}; key by {{ip}} for the client's address";
                return null;
            case "header" when HttpToken.IsToken(argument):
                return new Segment(SegmentKind.Header, argument!);
            case "header" when !string.IsNullOrWhiteSpace(argument):
                // No request carries such a header, so every request would share one bucket.
                error = $"'{argument}' in '{{header:{argument}}}' is not a header name ({HttpToken.NameRule})";
                return null;
            case "body" when argument is not null && (argument.Length == 0 || argument[0] == '/'):
                return new Segment(SegmentKind.Body, argument);
            case "header":
                error = "{header:Name} needs a header name";
                return null;
            case "body":
                error = "{body:/json/pointer} needs an RFC 6901 JSON pointer starting with '/'";
                return null;
            default:
                error = $"unknown placeholder '{{{placeholder}}}'; use {{tenant}}, {{principal}}, {{ip}}, {{route}}, {{header:Name}} or {{body:/json/pointer}}";
                return null;
        }
    }

    internal sealed record Segment(SegmentKind Kind, string Argument);
}
