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

    private static char Fold(char c) => c == '_' ? '-' : char.ToLowerInvariant(c);
}
