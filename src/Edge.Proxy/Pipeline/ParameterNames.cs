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
    /// The text as the parsers that split at ';' too read it (Rack 2, Python before 3.9.2, Go before 1.17:
    /// <c>x=1;_method=DELETE</c>), to check besides the text itself; null when it has no ';' (nearly always).
    /// </summary>
    public static string? SemicolonSplit(string text) =>
        text.Contains(';', StringComparison.Ordinal) ? text.Replace(';', '&') : null;
}
