using System.Text.Json;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Reads a value at an RFC 6901 JSON pointer in a parsed (buffered) JSON body: the delivery id of a verified webhook, the
/// sender of a body-keyed rate limit. <see cref="EdgeBodyFeature"/> parses the body once and reads through here.
/// </summary>
internal static class JsonPointer
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    /// <summary>The parsed body, or null when it is not JSON.</summary>
    public static JsonDocument? TryParse(ReadOnlyMemory<byte> json)
    {
        try
        {
            return JsonDocument.Parse(json, Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// With <paramref name="scalarOnly"/>: the non-empty string or number at <paramref name="pointer"/>. Otherwise a
    /// string's value or any other value's raw text. Null when absent, JSON null, or the body is not JSON.
    /// </summary>
    public static string? Read(JsonDocument? document, string pointer, bool scalarOnly)
    {
        if (document is null)
        {
            return null;
        }

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
            JsonValueKind.String when scalarOnly => ReadString(element) is { Length: > 0 } text ? text : null,
            JsonValueKind.String => ReadString(element),
            JsonValueKind.Number => element.GetRawText(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => scalarOnly ? null : element.GetRawText(),
        };
    }

    /// <summary>
    /// A string's value; null when it holds an unpaired surrogate escape (<c>"\ud800"</c>), which is valid JSON syntax
    /// but no text: such a value is absent, not a failure of the request (it was answered 502 backend_unavailable).
    /// </summary>
    private static string? ReadString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
