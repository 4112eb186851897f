namespace Edge.Configuration;

/// <summary>The names a reference could have meant, for "is not defined" errors: a typo is seen next to the real name.</summary>
internal static class DefinedNames
{
    public static string List(IEnumerable<string> names) =>
        names.Order(StringComparer.Ordinal).ToList() is { Count: > 0 } sorted ? string.Join(", ", sorted) : "(none)";
}
