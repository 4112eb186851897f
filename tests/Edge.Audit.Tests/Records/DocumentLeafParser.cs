using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Edge.Audit.Records;

namespace Edge.Audit.Tests.Records;

/// <summary>
/// The writer's leaf parser before <see cref="LeafReader"/>: a <see cref="JsonDocument"/> with the duplicate-member check,
/// then member lookups, then a walk of the document for the layout. Kept as the oracle the one-pass reader must agree with.
/// </summary>
internal static class DocumentLeafParser
{
    private static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false };

    public static LeafSummary? TryParse(byte[] leaf, out LeafLayout? layout, out string? error)
    {
        layout = null;
        try
        {
            using var document = JsonDocument.Parse(leaf, s_strict);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "A record is a JSON object.";
                return null;
            }

            if (GetString(root, "specversion") != AuditRecordSerializer.SpecVersion)
            {
                error = "specversion must be 1.0.";
                return null;
            }

            var id = GetString(root, "id");
            if (string.IsNullOrEmpty(id) || id.Length > LeafSummary.MaxIdLength)
            {
                error = "id is required (at most 128 characters).";
                return null;
            }

            if (!Rfc3339.TryParseDateTime(GetString(root, "time"), out var time))
            {
                error = "time must be an RFC 3339 date-time with an offset (2026-12-03T10:00:00Z).";
                return null;
            }

            if (string.IsNullOrEmpty(GetString(root, "source")) || string.IsNullOrEmpty(GetString(root, "type")))
            {
                error = "source and type are required.";
                return null;
            }

            if (AuditEventTypes.IsWriterOnly(GetString(root, "type")!)
                || (root.TryGetProperty("data", out var written) && written.ValueKind == JsonValueKind.Object && AuditDecisions.IsWriterOnly(GetString(written, "decision"))))
            {
                error = "this record type (or decision erased or pruned) is written by the audit writer itself.";
                return null;
            }

            string? route = null, decision = null, reason = null, principal = null;
            JsonElement? subjectValue = null;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
            {
                route = GetString(data, "route");
                decision = GetString(data, "decision");
                reason = GetString(data, "reason");
                if (data.TryGetProperty("subject", out var subject))
                {
                    subjectValue = subject;
                }

                if (subject.ValueKind == JsonValueKind.Object)
                {
                    if (GetString(subject, "protection") is not (null or "none"))
                    {
                        error = "data.subject.protection must be none: the writer protects personal fields itself.";
                        return null;
                    }

                    principal = GetString(subject, "principal");
                }
            }

            if (root.TryGetProperty("tenant", out var tenant) && tenant.ValueKind != JsonValueKind.String)
            {
                error = "tenant must be a string, a tenant id.";
                return null;
            }

            if (subjectValue is { } sealedSubject)
            {
                if (sealedSubject.ValueKind != JsonValueKind.Object || sealedSubject.EnumerateObject().Any(m => m.Value.ValueKind != JsonValueKind.String))
                {
                    error = "data.subject must be an object whose members are strings: the writer seals them and would drop anything else.";
                    return null;
                }

                if (sealedSubject.EnumerateObject().Any(m => m.Name is not ("protection" or "principal" or "clientIp"))
                    && principal is null && GetString(sealedSubject, "clientIp") is null)
                {
                    error = "data.subject has members besides protection but no principal or clientIp to seal them under.";
                    return null;
                }
            }

            error = null;
            layout = LayoutOf(leaf, root);
            return new LeafSummary(id, time, GetString(root, "tenant"), principal, route, decision, reason);
        }
        catch (JsonException)
        {
            error = "A record is not valid JSON.";
            return null;
        }
    }

    /// <summary>The layout as the writer found it before the one-pass reader: a walk of the parsed document.</summary>
    private static LeafLayout? LayoutOf(byte[] leaf, JsonElement root)
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

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
