using System.Text.Json;

namespace Edge.Proxy.Webhooks;

/// <summary>Reads a scalar at an RFC 6901 JSON pointer in a raw JSON body (the delivery id of verified payloads).</summary>
internal static class JsonPointer
{
    /// <summary>The string or number at <paramref name="pointer"/>, or null when the body is not JSON or the value is absent or not a scalar.</summary>
    public static string? ReadScalar(ReadOnlyMemory<byte> json, string pointer)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
            var element = document.RootElement;
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

            return element.ValueKind switch
            {
                JsonValueKind.String => element.GetString() is { Length: > 0 } text ? text : null,
                JsonValueKind.Number => element.GetRawText(),
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
