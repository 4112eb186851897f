using System.Text.Json;

namespace Edge.AuditWriter.Api;

/// <summary>
/// The human columns of a CSV row that live only inside the leaf (method, path, status, step, principal).
/// A subject that is not stored in plaintext (<c>"protection"</c> other than <c>none</c>, e.g. <c>erased</c>) shows as
/// <c>(erased)</c>: the CSV never guesses a principal from anything but the leaf.
/// </summary>
internal readonly record struct LeafFields(string? Principal, string? Method, string? Path, int? Status, string? Step)
{
    public static LeafFields Read(byte[] leaf)
    {
        try
        {
            using var document = JsonDocument.Parse(leaf);
            if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                return default;
            }

            string? principal = null;
            if (data.TryGetProperty("subject", out var subject) && subject.ValueKind == JsonValueKind.Object)
            {
                var protection = String(subject, "protection");
                principal = protection is null or "none" ? String(subject, "principal") : "(" + protection + ")";
            }

            int? status = data.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var code) ? code : null;
            return new LeafFields(principal, String(data, "method"), String(data, "path"), status, String(data, "step"));
        }
        catch (JsonException)
        {
            return default;
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

}
