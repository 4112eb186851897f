using System.Text.Json;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Reads a value at an RFC 6901 JSON pointer in a raw (buffered) JSON body: the delivery id of a verified webhook, the
/// sender of a body-keyed rate limit.
/// </summary>
internal static class JsonPointer
{
    /// <summary>The non-empty string or number at <paramref name="pointer"/>; null when absent, not JSON or not a scalar.</summary>
    public static string? ReadScalar(ReadOnlyMemory<byte> json, string pointer) => Read(json, pointer, scalarOnly: true);

    /// <summary>A string's value, or any other JSON value's raw text; null when absent, null or not JSON.</summary>
    public static string? ReadValue(ReadOnlyMemory<byte> json, string pointer) => Read(json, pointer, scalarOnly: false);

    private static string? Read(ReadOnlyMemory<byte> json, string pointer, bool scalarOnly)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
            var element = document.RootElement;
            if (pointer.Length > 0)
            {
                foreach (var rawToken in pointer[1..].Split('/'))
                {
                    var token = rawToken.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                    if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(token, out var child))
                    {
                        element = child;
                    }
                    else if (element.ValueKind == JsonValueKind.Array && int.TryParse(token, out var index) && index >= 0 && index < element.GetArrayLength())
                    {
                        element = element[index];
                    }
                    else
                    {
                        return null;
                    }
                }
            }

            return element.ValueKind switch
            {
                JsonValueKind.String when scalarOnly => element.GetString() is { Length: > 0 } text ? text : null,
                JsonValueKind.String => element.GetString(),
                JsonValueKind.Number => element.GetRawText(),
                JsonValueKind.Null or JsonValueKind.Undefined => null,
                _ => scalarOnly ? null : element.GetRawText(),
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
