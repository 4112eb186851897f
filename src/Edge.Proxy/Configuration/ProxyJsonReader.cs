using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>
/// Parses proxy.json text. Unknown properties are errors: a misspelt option must never silently turn a check off.
/// </summary>
internal static class ProxyJsonReader
{
    public static readonly JsonSerializerOptions SerializerOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(), new StringMapConverter() },
    };

    public static ParsedProxyJson? Parse(ReadOnlySpan<byte> utf8, ConfigErrorList errors)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(utf8));
        if (utf8.Trim((byte)' ').Trim("\r\n\t"u8).IsEmpty)
        {
            errors.Add("proxy.json", "the file is empty");
            return null;
        }

        ProxyJsonDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ProxyJsonDocument>(utf8, SerializerOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 0 } ? ex.Path : "proxy.json";
            var line = ex.LineNumber is { } l ? $" (line {l + 1}, byte {ex.BytePositionInLine + 1})" : "";
            errors.Add(where, StripPathSuffix(ex.Message) + line);
            return null;
        }

        if (document?.ReverseProxy is null)
        {
            errors.Add("ReverseProxy", "the ReverseProxy section is missing");
            return null;
        }

        var routes = (document.ReverseProxy.Routes ?? []).Select(r => r.Value with { RouteId = r.Key }).ToList();
        var clusters = (document.ReverseProxy.Clusters ?? []).Select(c => c.Value with { ClusterId = c.Key }).ToList();
        return new ParsedProxyJson(routes, clusters, document.Edge ?? EdgeSection.Empty, hash);
    }

    // System.Text.Json appends "Path: $.x | LineNumber: n | BytePositionInLine: m." which we report in our own words.
    private static string StripPathSuffix(string message)
    {
        var index = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return index > 0 ? message[..index] : message;
    }
}
