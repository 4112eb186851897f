namespace Edge.Audit.Records;

/// <summary>
/// Where the members the writer rewrites sit in a leaf's bytes, found by the parse that validated it, so protecting
/// the subject splices the leaf instead of parsing and re-serialising it (the second parse and the member-by-member
/// rewrite were about a tenth of the writer's CPU per record). Offsets are byte indexes into that leaf; -1 means absent.
/// </summary>
/// <param name="SchemaStart">The <c>dataschema</c> value's first byte.</param>
/// <param name="SchemaLength">The <c>dataschema</c> value's length.</param>
/// <param name="RootEnd">The root object's closing brace.</param>
/// <param name="DataEnd">The <c>data</c> object's closing brace; -1 when <c>data</c> is absent or not an object.</param>
/// <param name="DataEmpty">True when <c>data</c> is an object with no members.</param>
/// <param name="SubjectStart">The <c>data.subject</c> value's first byte.</param>
/// <param name="SubjectLength">The <c>data.subject</c> value's length.</param>
/// <param name="ClientIp">The plaintext <c>data.subject.clientIp</c>, when the subject is an object that has one.</param>
/// <param name="SubjectDetails">
/// The subject's other string members (not <c>protection</c>, <c>principal</c> or <c>clientIp</c>), in their order, e.g.
/// a ban record's <c>banKey</c>; null when there are none. They are personal too, and are sealed with the subject.
/// </param>
public readonly record struct LeafLayout(
    int SchemaStart, int SchemaLength, int RootEnd, int DataEnd, bool DataEmpty, int SubjectStart, int SubjectLength, string? ClientIp,
    IReadOnlyList<KeyValuePair<string, string>>? SubjectDetails = null)
{
    /// <summary>The layout of <paramref name="leaf"/>, read in one pass; null when it is not a JSON object a reader can take back.</summary>
    public static LeafLayout? Of(byte[] leaf)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        return LeafReader.LayoutOf(leaf);
    }
}
