using System.Buffers;

namespace Edge.Configuration;

/// <summary>RFC 9110 tokens: what a header name, a cookie name (RFC 6265) and a method may hold.</summary>
internal static class HttpToken
{
    private static readonly SearchValues<char> Characters =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    public static bool IsToken(ReadOnlySpan<char> text) => text.Length > 0 && text.IndexOfAnyExcept(Characters) < 0;
}
