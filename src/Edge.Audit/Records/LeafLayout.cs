using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

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
    /// <summary>The layout of a leaf parsed into <paramref name="root"/> from <paramref name="leaf"/> itself (not a copy); null otherwise.</summary>
    public static LeafLayout? Of(byte[] leaf, JsonElement root)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        if (root.ValueKind != JsonValueKind.Object || !TryRange(leaf, root, out var rootStart, out var rootLength))
        {
            return null;
        }

        int schemaStart = -1, schemaLength = -1, dataEnd = -1, subjectStart = -1, subjectLength = -1;
        var dataEmpty = false;
        string? clientIp = null;
        List<KeyValuePair<string, string>>? details = null;
        if (root.TryGetProperty("dataschema", out var schema) && !TryRange(leaf, schema, out schemaStart, out schemaLength))
        {
            return null;
        }

        if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
        {
            if (!TryRange(leaf, data, out var dataStart, out var dataLength))
            {
                return null;
            }

            dataEnd = dataStart + dataLength - 1;
            using (var members = data.EnumerateObject())
            {
                dataEmpty = !members.MoveNext();
            }

            if (data.TryGetProperty("subject", out var subject))
            {
                if (!TryRange(leaf, subject, out subjectStart, out subjectLength))
                {
                    return null;
                }

                if (subject.ValueKind == JsonValueKind.Object)
                {
                    foreach (var member in subject.EnumerateObject())
                    {
                        if (member.Value.ValueKind != JsonValueKind.String || member.NameEquals("protection") || member.NameEquals("principal"))
                        {
                            continue;
                        }

                        if (member.NameEquals("clientIp"))
                        {
                            clientIp = member.Value.GetString();
                        }
                        else
                        {
                            (details ??= []).Add(new(member.Name, member.Value.GetString()!));
                        }
                    }
                }
            }
        }

        return new LeafLayout(schemaStart, schemaLength, rootStart + rootLength - 1, dataEnd, dataEmpty, subjectStart, subjectLength, clientIp, details);
    }

    /// <summary>The element's raw bytes as a range of <paramref name="leaf"/>; false when they are not inside it.</summary>
    private static bool TryRange(byte[] leaf, JsonElement element, out int start, out int length)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        length = raw.Length;
        start = leaf.Length == 0 || raw.IsEmpty
            ? -1
            : (int)Unsafe.ByteOffset(ref MemoryMarshal.GetArrayDataReference(leaf), ref MemoryMarshal.GetReference(raw));
        return start >= 0 && start <= leaf.Length - length;
    }
}
