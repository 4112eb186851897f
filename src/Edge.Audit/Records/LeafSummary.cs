using System.Globalization;
using System.Text.Json;

namespace Edge.Audit.Records;

/// <summary>The indexed fields the writer extracts from a leaf; everything else stays inside the leaf bytes.</summary>
public sealed record LeafSummary(
    string Id, DateTimeOffset Time, string? Tenant, string? Principal, string? Route, string? Decision, string? Reason)
{
    public const int MaxIdLength = 128;

    /// <summary>Parses a leaf as a CloudEvents envelope. Returns null with an error when it is not one.</summary>
    public static LeafSummary? TryParse(ReadOnlySpan<byte> leaf, out string? error)
    {
        try
        {
            var reader = new Utf8JsonReader(leaf);
            using var document = JsonDocument.ParseValue(ref reader);
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

            if (!DateTimeOffset.TryParse(GetString(root, "time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                error = "time must be an RFC 3339 timestamp.";
                return null;
            }

            if (string.IsNullOrEmpty(GetString(root, "source")) || string.IsNullOrEmpty(GetString(root, "type")))
            {
                error = "source and type are required.";
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
                    principal = GetString(subject, "principal");
                }
            }

            error = null;
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
