using System.Text.Json;

namespace Edge.Load.Thresholds;

/// <summary>
/// Reads thresholds from JSON: <c>{ "Thresholds": [ "p99 &lt; 20ms", { "Scenario": "plain-get", "Step": "login", "Check": "fail% &lt; 1" } ] }</c>
/// (a bare array works too).
/// </summary>
public static class ThresholdFile
{
    public static IReadOnlyList<Threshold> Load(string path)
    {
        using var document = Parse(path);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object)
        {
            if (!TryGetProperty(root, "Thresholds", out root))
            {
                throw new FormatException($"{path}: expected a 'Thresholds' array.");
            }
        }

        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{path}: 'Thresholds' must be an array.");
        }

        var thresholds = new List<Threshold>();
        foreach (var item in root.EnumerateArray())
        {
            switch (item.ValueKind)
            {
                case JsonValueKind.String:
                    thresholds.Add(Threshold.Parse(item.GetString()!));
                    break;
                case JsonValueKind.Object:
                    var check = OptionalString(path, item, "Check");
                    if (string.IsNullOrWhiteSpace(check))
                    {
                        throw new FormatException($"{path}: every threshold object needs a 'Check' such as \"p99 < 20ms\".");
                    }

                    thresholds.Add(Threshold.Parse(check, OptionalString(path, item, "Scenario"), OptionalString(path, item, "Step")));
                    break;
                default:
                    throw new FormatException($"{path}: a threshold is a string or an object with 'Check'.");
            }
        }

        return thresholds;
    }

    // JsonException's message named neither the file nor that it is the thresholds file that is broken.
    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new FormatException($"{path}: not valid JSON: {ex.Message}", ex);
        }
    }

    // A number where a string belongs ("Check": 5) ended the tool with a stack trace, and a non-string "Scenario" was
    // dropped, so the check silently applied to every scenario.
    private static string? OptionalString(string path, JsonElement item, string name)
    {
        if (!TryGetProperty(item, name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new FormatException($"{path}: '{name}' must be a string, got {value.ValueKind.ToString().ToLowerInvariant()} {value.GetRawText()}.");
    }

    private static bool TryGetProperty(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}
