namespace Edge.Audit.Records;

/// <summary>The indexed fields the writer extracts from a leaf; everything else stays inside the leaf bytes.</summary>
public sealed record LeafSummary(
    string Id, DateTimeOffset Time, string? Tenant, string? Principal, string? Route, string? Decision, string? Reason)
{
    public const int MaxIdLength = 128;

    /// <summary>Parses a leaf as a CloudEvents envelope. Returns null with an error when it is not one.</summary>
    public static LeafSummary? TryParse(ReadOnlySpan<byte> leaf, out string? error) => TryParse(leaf.ToArray(), out error);

    /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out string?)"/>
    public static LeafSummary? TryParse(byte[] leaf, out string? error) => TryParse(leaf, out _, out error);

    /// <summary>
    /// Parses a leaf as a CloudEvents envelope and, from the same parse, where its members sit
    /// (<see cref="LeafLayout"/>; null when the summary is). Returns null with an error when it is not one.
    /// </summary>
    public static LeafSummary? TryParse(byte[] leaf, out LeafLayout? layout, out string? error)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        // Duplicate members would let the indexed fields and the protected subject read different values, so a repeated
        // name in any object is refused. The layout's offsets are offsets into this array.
        return LeafReader.TryRead(leaf, out layout, out error);
    }
}
