using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Edge.Configuration;

/// <summary>
/// Parses proxy.json text. Unknown properties are errors: a misspelt option must never silently turn a check off.
/// The <c>Edge</c> object is bound through the registered <see cref="EdgeSectionDescriptor"/>s, so an unregistered
/// section is an unknown property too.
/// </summary>
public sealed class ProxyJsonReader
{
    public ProxyJsonReader(IEnumerable<EdgeSectionDescriptor> sections)
        : this(sections, skipUnknownSections: false)
    {
    }

    private ProxyJsonReader(IEnumerable<EdgeSectionDescriptor> sections, bool skipUnknownSections)
    {
        var registered = sections.ToArray();
        SerializerOptions = new JsonSerializerOptions
        {
            PropertyNameCaseInsensitive = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            Converters = { new JsonStringEnumConverter(), new StringMapConverter() },
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { typeInfo => BindSections(typeInfo, registered, skipUnknownSections) } },
        };
        SerializerOptions.MakeReadOnly();
    }

    /// <summary>The options proxy.json is read with (and the Edge section hashed with).</summary>
    public JsonSerializerOptions SerializerOptions { get; }

    /// <summary>
    /// A reader for hosts that use only some sections of an edge's proxy.json (the audit writer): the other sections
    /// belong to the edge, which validates them, so they are skipped here instead of refused.
    /// </summary>
    public static ProxyJsonReader ForSections(params EdgeSectionDescriptor[] sections) => new(sections, skipUnknownSections: true);

    public ParsedProxyJson? Parse(ReadOnlySpan<byte> utf8, ConfigErrorList errors)
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

    private static void BindSections(JsonTypeInfo typeInfo, EdgeSectionDescriptor[] sections, bool skipUnknownSections)
    {
        if (typeInfo.Type != typeof(EdgeSection))
        {
            return;
        }

        typeInfo.CreateObject = static () => new EdgeSection();
        if (skipUnknownSections)
        {
            typeInfo.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        }

        foreach (var section in sections)
        {
            var property = typeInfo.CreateJsonPropertyInfo(section.OptionsType, section.Name);
            property.Get = edge => ((EdgeSection)edge).GetValue(section);
            property.Set = (edge, value) => ((EdgeSection)edge).Set(section, value);
            typeInfo.Properties.Add(property);
        }
    }

    // System.Text.Json appends "Path: $.x | LineNumber: n | BytePositionInLine: m." which we report in our own words.
    private static string StripPathSuffix(string message)
    {
        var index = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return index > 0 ? message[..index] : message;
    }
}
