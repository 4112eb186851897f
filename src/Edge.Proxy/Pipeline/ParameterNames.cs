namespace Edge.Proxy.Pipeline;

/// <summary>
/// How backends' query and form parsers read a parameter name, for the names the edge must see as a backend does
/// (<c>access_token</c>, <c>_method</c>).
/// </summary>
internal static class ParameterNames
{
    /// <summary>
    /// The name a parser files the parameter under besides its literal text: PHP drops leading spaces and everything
    /// from a NUL (it reads names as C strings), PHP, Rack and qs read <c>name[]</c>, <c>name[0]</c> and <c>name[a]</c>
    /// as <c>name</c>, and Rack 2 and qs drop leading brackets and a trailing ']' (<c>[name]</c>, <c>name]</c>).
    /// </summary>
    public static ReadOnlySpan<char> BaseName(ReadOnlySpan<char> name)
    {
        var nul = name.IndexOf('\0');
        var trimmed = (nul >= 0 ? name[..nul] : name).TrimStart(" []");
        var end = trimmed.IndexOfAny('[', ']');
        return end >= 0 ? trimmed[..end] : trimmed;
    }

    /// <summary>
    /// The text as parsers split it: at '&amp;', and then, when it has a ';', at ';' too, as Rack 2, Python before 3.9.2
    /// and Go before 1.17 split it (<c>x=1;_method=DELETE</c>).
    /// </summary>
    public static IEnumerable<string> Splittings(string text)
    {
        yield return text;
        if (text.Contains(';', StringComparison.Ordinal))
        {
            yield return text.Replace(';', '&');
        }
    }
}
