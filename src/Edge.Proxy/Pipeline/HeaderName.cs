namespace Edge.Proxy.Pipeline;

/// <summary>Header-name comparisons that treat '_' and '-' as the same character, case-insensitively.</summary>
internal static class HeaderName
{
    public static bool StartsWith(string name, string prefix) =>
        name.Length >= prefix.Length && EqualsName(name.AsSpan(0, prefix.Length), prefix);

    public static bool EqualsName(ReadOnlySpan<char> name, ReadOnlySpan<char> other)
    {
        if (name.Length != other.Length)
        {
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (Fold(name[i]) != Fold(other[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when the request carries <paramref name="name"/> under another spelling that only swaps '-' and '_'
    /// (X_Tenant_ID for X-Tenant-ID): a backend that maps names to CGI variables (PHP, WSGI, Rack) reads both as one.
    /// </summary>
    public static bool HasUnderscoreAlias(IHeaderDictionary headers, string name)
    {
        foreach (var header in headers)
        {
            if (header.Key.Length == name.Length
                && !string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase)
                && EqualsName(header.Key, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The names of the request's headers that spell one of <paramref name="names"/> with '_' (X_Api_Key for X-Api-Key);
    /// null when there are none. Collected first: the caller removes them from the collection being walked.
    /// </summary>
    public static List<string>? UnderscoreAliases(IHeaderDictionary headers, string[] names)
    {
        List<string>? aliases = null;
        foreach (var header in headers)
        {
            if (!header.Key.Contains('_', StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var name in names)
            {
                if (EqualsName(header.Key, name))
                {
                    (aliases ??= []).Add(header.Key);
                    break;
                }
            }
        }

        return aliases;
    }

    private static char Fold(char c) => c == '_' ? '-' : char.ToLowerInvariant(c);
}
