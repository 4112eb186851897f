using System.Text.Json;

namespace Edge.Audit.Records;

/// <summary>The indexed fields the writer extracts from a leaf; everything else stays inside the leaf bytes.</summary>
public sealed record LeafSummary(
    string Id, DateTimeOffset Time, string? Tenant, string? Principal, string? Route, string? Decision, string? Reason)
{
    public const int MaxIdLength = 128;

    private static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false };

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
        layout = null;
        try
        {
            // Duplicate members would let the indexed fields and the protected subject read different values.
            // The byte[] is parsed in place (no copy), so the layout's offsets are offsets into it.
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
            if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
            {
                error = "id is required (at most 128 characters).";
                return null;
            }

            // Strictly: DateTimeOffset.TryParse read "03/12/2026" as March 12, "10:00" as today and a time without an offset
            // as UTC, so the indexed time (the read API's from/to window, retention, erasure) could differ from what a
            // reader of the leaf takes it to say.
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

            if (AuditEventTypes.IsWriterOnly(GetString(root, "type")!))
            {
                error = "this record type is written by the audit writer itself.";
                return null;
            }

            string? route = null, decision = null, reason = null, principal = null;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
            {
                route = GetString(data, "route");
                decision = GetString(data, "decision");
                reason = GetString(data, "reason");
                if (data.TryGetProperty("subject", out var subject) && subject.ValueKind == JsonValueKind.Object)
                {
                    // Edges send plaintext subjects; the writer encrypts them. A protected subject it cannot decrypt would
                    // make the record unsearchable and unerasable, so it is refused.
                    if (GetString(subject, "protection") is not (null or "none"))
                    {
                        error = "data.subject.protection must be none: the writer protects personal fields itself.";
                        return null;
                    }

                    principal = GetString(subject, "principal");
                }
            }

            error = null;
            layout = LeafLayout.Of(leaf, root);
            return new LeafSummary(id, time, GetString(root, "tenant"), principal, route, decision, reason);
        }
        catch (JsonException)
        {
            error = "A record is not valid JSON.";
            return null;
        }
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
