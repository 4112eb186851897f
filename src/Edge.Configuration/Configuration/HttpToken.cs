using System.Buffers;

namespace Edge.Configuration;

/// <summary>RFC 9110 tokens: what a header name, a cookie name (RFC 6265) and a method may hold.</summary>
internal static class HttpToken
{
    private static readonly SearchValues<char> Characters =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>What a refusal of a header name says it may hold.</summary>
    public const string NameRule = "letters, digits and !#$%&'*+-.^_`|~, no spaces or ':'";

    public static bool IsToken(ReadOnlySpan<char> text) => text.Length > 0 && text.IndexOfAnyExcept(Characters) < 0;

    /// <summary>True when a header value holds a control character other than tab (a line break, NUL), which no request or response can carry.</summary>
    public static bool HasControlCharacter(string value) => value.Any(c => (c < ' ' && c != '\t') || c == '\x7f');
}
