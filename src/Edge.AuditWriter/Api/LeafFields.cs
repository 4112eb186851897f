using System.Text.Json;
using Edge.Audit.Records;

namespace Edge.AuditWriter.Api;

/// <summary>
/// The human columns of a CSV row that live only inside the leaf (method, path, status, step), and its exact time. None is personal data,
/// so they are read from the committed bytes; the principal comes from <see cref="RecordView"/>, which decrypts it.
/// </summary>
internal readonly record struct LeafFields(string? Method, string? Path, int? Status, string? Step, DateTimeOffset? Time)
{
    public static LeafFields Read(byte[] leaf)
    {
        try
        {
            using var document = JsonDocument.Parse(leaf);
            DateTimeOffset? time = Rfc3339.TryParseDateTime(String(document.RootElement, "time"), out var parsed) ? parsed : null;
            if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                return new LeafFields(null, null, null, null, time);
            }

            int? status = data.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var code) ? code : null;
            return new LeafFields(String(data, "method"), String(data, "path"), status, String(data, "step"), time);
        }
        catch (JsonException)
        {
            return default;
        }
        catch (InvalidOperationException)
        {
            // Text that cannot be decoded (invalid UTF-8, an unpaired surrogate escape): ingest refuses it now, but a store
            // written before that may hold one, and one record must not break the export of all the others.
            return default;
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
