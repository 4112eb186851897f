using System.Reflection;
using System.Security.Cryptography;
using System.Text;
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
        _sectionNames = [.. registered.Select(static s => s.Name)];
        SerializerOptions = new JsonSerializerOptions
        {
            PropertyNameCaseInsensitive = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            // The last of two same-named members used to win silently: a second route with an existing id replaced the
            // first, and a policy written twice lost its first half.
            AllowDuplicateProperties = false,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            // Enums by name only, one name unless the enum is [Flags]: a number that named no member was taken as that number
            // ("VersionPolicy": 9 failed every request of the cluster with 502, a header "Mode": 77 made its route match
            // nothing), and "HeaderPrefix, Contains" as their OR (NotContains).
            Converters = { new EnumNameConverter(), new StringMapConverter(), new DurationConverter() },
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { typeInfo => BindSections(typeInfo, registered, skipUnknownSections) } },
        };
        SerializerOptions.MakeReadOnly();
    }

    private readonly string[] _sectionNames;

    // The same leniency as SerializerOptions (comments, trailing commas), so the text check reads what the serializer reads.
    private static readonly JsonReaderOptions TextCheckOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

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

        // Editors on Windows save UTF-8 with a byte order mark; Utf8JsonReader refuses it, the JSON configuration provider does not.
        if (utf8.StartsWith("\uFEFF"u8))
        {
            utf8 = utf8[3..];
        }

        // Windows PowerShell 5's "> proxy.json" and Out-File write UTF-16; the parser's "'0xFF' is an invalid start of a
        // value" named neither the encoding nor the fix.
        if (utf8 is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] or [not 0, 0, ..] or [0, not 0, ..])
        {
            errors.Add("proxy.json", "the file is saved as UTF-16 (or UTF-32), not UTF-8; save it as UTF-8 (in PowerShell: Set-Content -Encoding utf8, or Out-File -Encoding utf8)");
            return null;
        }

        if (utf8.Trim((byte)' ').Trim("\r\n\t"u8).IsEmpty)
        {
            errors.Add("proxy.json", "the file is empty");
            return null;
        }

        if (JsonText.FirstUndecodable(utf8, TextCheckOptions) is var undecodable and >= 0)
        {
            var (line, at) = JsonText.Position(utf8, undecodable);
            errors.Add("proxy.json", $"a string or name here is not valid UTF-8 (or holds an unpaired surrogate escape such as \\ud800); save the file as UTF-8 (line {line}, byte {at})");
            return null;
        }

        ProxyJsonDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ProxyJsonDocument>(utf8, SerializerOptions);
        }
        catch (JsonException ex) when (EndsTooEarly(ex))
        {
            // The parser names the object it was in when the text ran out (the last section of the file), which reads as
            // that section being wrong.
            errors.Add("proxy.json", "the file ends before its JSON does: an object or array is still open (a closing '}' or ']' is missing, or the file was cut off)" + PositionOf(ex));
            return null;
        }
        catch (JsonException ex)
        {
            var where = LocationOf(ex.Path);
            var line = PositionOf(ex);
            var message = ex.Message.StartsWith("Duplicate propert", StringComparison.Ordinal)
                ? $"'{where[(where.LastIndexOf(':') + 1)..]}' is given twice in the same object (names are case-insensitive); keep one"
                : ExplainUnknownProperty(StripPathSuffix(ex.Message)) ?? Explain(StripPathSuffix(ex.Message));
            errors.Add(where, message + line);
            return null;
        }

        // A null where the config needs a value (a route, a cluster, a destination, a policy, a list entry) deserializes
        // without complaint and made a later check throw: the edit was refused as "a bug in the edge", without a location.
        var nulls = errors.Items.Count;
        var textReader = new Utf8JsonReader(utf8, TextCheckOptions);
        using (var tree = JsonDocument.ParseValue(ref textReader))
        {
            ReportNulls(tree.RootElement, SerializerOptions.GetTypeInfo(typeof(ProxyJsonDocument)), "", errors);
            if (tree.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var top in tree.RootElement.EnumerateObject())
                {
                    if (string.Equals(top.Name, "Edge", StringComparison.OrdinalIgnoreCase))
                    {
                        ReportCaseDuplicates(top.Value, top.Name, errors);
                    }
                }
            }
        }

        if (errors.Items.Count > nulls)
        {
            return null;
        }

        if (document?.ReverseProxy is null)
        {
            errors.Add("ReverseProxy", "the ReverseProxy section is missing");
            return null;
        }

        // YARP keys routes and clusters case-insensitively: of "orders" and "Orders" it would serve only one.
        var duplicate = false;
        foreach (var (section, ids) in new (string, IEnumerable<string>?)[] { ("Routes", document.ReverseProxy.Routes?.Keys), ("Clusters", document.ReverseProxy.Clusters?.Keys) })
        {
            foreach (var group in (ids ?? Enumerable.Empty<string>()).GroupBy(static id => id, StringComparer.OrdinalIgnoreCase).Where(static g => g.Count() > 1))
            {
                foreach (var id in group.Skip(1))
                {
                    errors.Add($"ReverseProxy:{section}:{id}", $"'{id}' is given twice: ids are case-insensitive, and '{group.First()}' is already defined");
                    duplicate = true;
                }
            }
        }

        // YARP keys a cluster's destinations case-insensitively too: of "d1" and "D1" it kept the last, and the first
        // address silently received no traffic.
        foreach (var (clusterId, cluster) in document.ReverseProxy.Clusters ?? [])
        {
            foreach (var group in (cluster.Destinations?.Keys ?? Enumerable.Empty<string>()).GroupBy(static name => name, StringComparer.OrdinalIgnoreCase).Where(static g => g.Count() > 1))
            {
                foreach (var name in group.Skip(1))
                {
                    errors.Add($"ReverseProxy:Clusters:{clusterId}:Destinations:{name}", $"'{name}' is given twice: destination names are case-insensitive, and '{group.First()}' is already defined");
                    duplicate = true;
                }
            }
        }

        if (duplicate)
        {
            return null;
        }

        var routes = (document.ReverseProxy.Routes ?? []).Select(r => r.Value with { RouteId = r.Key }).ToList();
        var clusters = (document.ReverseProxy.Clusters ?? []).Select(c => c.Value with { ClusterId = c.Key }).ToList();
        return new ParsedProxyJson(routes, clusters, document.Edge ?? EdgeSection.Empty, hash);
    }

    private void ReportNulls(JsonElement element, JsonTypeInfo typeInfo, string location, ConfigErrorList errors)
    {
        if (element.ValueKind == JsonValueKind.Object && typeInfo.Kind == JsonTypeInfoKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                // An unknown name is the deserializer's error; a section bound by name (Edge:Roles) may be null: its default.
                var member = typeInfo.Properties.FirstOrDefault(p => string.Equals(p.Name, property.Name, StringComparison.OrdinalIgnoreCase));
                var at = Member(location, property.Name);
                if (member is null)
                {
                    continue;
                }

                if (property.Value.ValueKind != JsonValueKind.Null)
                {
                    ReportNulls(property.Value, SerializerOptions.GetTypeInfo(member.PropertyType), at, errors);
                }
                else if (!AcceptsNull(member))
                {
                    errors.Add(at, $"'{property.Name}' is null; give it a value or leave the property out");
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Object && typeInfo.Kind == JsonTypeInfoKind.Dictionary && typeInfo.ElementType is { } valueType)
        {
            foreach (var property in element.EnumerateObject())
            {
                var at = Member(location, property.Name);
                if (property.Value.ValueKind == JsonValueKind.Null)
                {
                    errors.Add(at, $"'{property.Name}' is null; give it a value or remove the entry");
                }
                else
                {
                    ReportNulls(property.Value, SerializerOptions.GetTypeInfo(valueType), at, errors);
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array && typeInfo.Kind == JsonTypeInfoKind.Enumerable && typeInfo.ElementType is { } itemType)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                var at = $"{(location.Length == 0 ? "proxy.json" : location)}[{index++}]";
                if (item.ValueKind == JsonValueKind.Null)
                {
                    errors.Add(at, "null is not an entry; remove it from the list");
                }
                else
                {
                    ReportNulls(item, SerializerOptions.GetTypeInfo(itemType), at, errors);
                }
            }
        }
    }

    /// <summary>
    /// Policy, rule and role names (the <c>Edge</c> section's dictionaries) that differ only in case: the deserializer
    /// refuses a property written twice in any case, but kept <c>"p"</c> and <c>"P"</c> as two policies, so a reference
    /// picked one by its case, and a role written twice in different case counted twice. Names in proxy.json are
    /// case-insensitive, as YARP's route and cluster ids and .NET configuration keys are: the later one is an error.
    /// </summary>
    private static void ReportCaseDuplicates(JsonElement element, string location, ConfigErrorList errors)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in element.EnumerateObject())
            {
                var at = Member(location, property.Name);
                if (!seen.TryAdd(property.Name, property.Name))
                {
                    errors.Add(at, $"'{property.Name}' is given twice in the same object: names are case-insensitive, and '{seen[property.Name]}' is already defined; keep one");
                    continue;
                }

                ReportCaseDuplicates(property.Value, at, errors);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                ReportCaseDuplicates(item, $"{location}[{index++}]", errors);
            }
        }
    }

    private static string Member(string location, string name) => location.Length == 0 ? name : location + ":" + name;

    // Null is what an optional member means by absent; a member declared non-nullable (RouteConfig.Match, a policy's
    // string) is read by checks that assume a value.
    private static bool AcceptsNull(JsonPropertyInfo member)
    {
        if (member.PropertyType.IsValueType)
        {
            return Nullable.GetUnderlyingType(member.PropertyType) is not null;
        }

        var nullability = new NullabilityInfoContext();
        return member.AttributeProvider switch
        {
            PropertyInfo property => nullability.Create(property).WriteState != NullabilityState.NotNull,
            FieldInfo field => nullability.Create(field).WriteState != NullabilityState.NotNull,
            _ => true,
        };
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

    /// <summary>
    /// A System.Text.Json path (<c>$.ReverseProxy.Routes['my route'].Transforms[0].EdgeX</c>) in the location form every
    /// other config error uses (<c>ReverseProxy:Routes:my route:Transforms[0]:EdgeX</c>); <c>proxy.json</c> for the root.
    /// </summary>
    internal static string LocationOf(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath[0] != '$')
        {
            return string.IsNullOrEmpty(jsonPath) ? "proxy.json" : jsonPath;
        }

        var location = new StringBuilder(jsonPath.Length);
        var i = 1;
        while (i < jsonPath.Length)
        {
            if (jsonPath[i] == '.')
            {
                var end = jsonPath.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? jsonPath.Length : end;
                AppendName(location, jsonPath.AsSpan(i + 1, end - i - 1));
                i = end;
            }
            else if (jsonPath.AsSpan(i).StartsWith("['", StringComparison.Ordinal))
            {
                // Names that are not plain identifiers are quoted; a quote inside is escaped as \'.
                var end = jsonPath.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? jsonPath.Length : end;
                AppendName(location, jsonPath.AsSpan(i + 2, end - i - 2).ToString().Replace("\\'", "'", StringComparison.Ordinal));
                i = Math.Min(end + 2, jsonPath.Length);
            }
            else if (jsonPath[i] == '[')
            {
                // An array index stays attached to its member, as in Transforms[0].
                var end = jsonPath.IndexOf(']', i);
                end = end < 0 ? jsonPath.Length - 1 : end;
                location.Append(jsonPath, i, end - i + 1);
                i = end + 1;
            }
            else
            {
                location.Append(jsonPath[i]);
                i++;
            }
        }

        return location.Length == 0 ? "proxy.json" : location.ToString();
    }

    private static void AppendName(StringBuilder location, ReadOnlySpan<char> name)
    {
        if (location.Length > 0)
        {
            location.Append(':');
        }

        location.Append(name);
    }

    private const string UnmappedPrefix = "The JSON property '";
    private const string UnmappedMiddle = "' could not be mapped to any .NET member contained in type '";

    // Host settings live in appsettings.json, the environment or the command line, not in proxy.json; put under
    // proxy.json's Edge object they would otherwise be reported as an unknown .NET member.
    private static readonly string[] HostSettingNames =
    [
        .. typeof(EdgeHostOptions).GetProperties().Select(static p => p.Name),
        "Audit", "Observability",
    ];

    /// <summary>
    /// System.Text.Json reports an unknown member as a .NET type it could not be mapped to; the person editing proxy.json
    /// needs to hear which name is unknown, what the object accepts, and whether the name is a host setting.
    /// </summary>
    internal string? ExplainUnknownProperty(string message)
    {
        if (!message.StartsWith(UnmappedPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var middle = message.IndexOf(UnmappedMiddle, UnmappedPrefix.Length, StringComparison.Ordinal);
        if (middle < 0)
        {
            return null;
        }

        var name = message[UnmappedPrefix.Length..middle];
        var typeName = message[(middle + UnmappedMiddle.Length)..].TrimEnd('.').TrimEnd('\'');
        if (typeName == typeof(EdgeSection).FullName
            && HostSettingNames.FirstOrDefault(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase)) is { } host)
        {
            return $"unknown property '{name}': Edge:{host} is a host setting, not part of proxy.json; set it in appsettings.json, "
                + $"as the environment variable Edge__{host} or on the command line (--Edge:{host}=…)";
        }

        // One level too high: YARP's Routes and Clusters without their ReverseProxy object, or an Edge section without Edge.
        if (typeName == typeof(ProxyJsonDocument).FullName)
        {
            if (string.Equals(name, "Routes", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "Clusters", StringComparison.OrdinalIgnoreCase))
            {
                return $"unknown property '{name}': it goes inside ReverseProxy ({{ \"ReverseProxy\": {{ \"Routes\": …, \"Clusters\": … }}, \"Edge\": … }})";
            }

            if (_sectionNames.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) is { } section)
            {
                return $"unknown property '{name}': it goes inside Edge ({{ \"ReverseProxy\": …, \"Edge\": {{ \"{section}\": … }} }})";
            }
        }

        // The type may live in any assembly that registered a section (a policy's options type) or in YARP.
        var type = typeof(ProxyJsonReader).Assembly.GetType(typeName)
            ?? AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName)).FirstOrDefault(static t => t is not null);
        if (type is null)
        {
            return $"unknown property '{name}'";
        }

        var known = SerializerOptions.GetTypeInfo(type).Properties.Select(static p => p.Name).Order(StringComparer.Ordinal).ToList();
        if (known.Count == 0)
        {
            return $"unknown property '{name}': this object takes no properties";
        }

        return Closest(known, name) is { } closest
            ? $"unknown property '{name}'; did you mean '{closest}'? (known here: {string.Join(", ", known)})"
            : $"unknown property '{name}' (known here: {string.Join(", ", known)})";
    }

    /// <summary>The known name a misspelt one most likely meant (at most two edits away), for "did you mean" hints.</summary>
    internal static string? Closest(IEnumerable<string> known, string name) =>
        known.Select(k => (Name: k, Distance: EditDistance(k, name))).Where(static c => c.Distance <= 2)
            .OrderBy(static c => c.Distance).Select(static c => c.Name).FirstOrDefault();

    /// <summary>Case-insensitive Levenshtein distance, for "did you mean" hints (also on the edge's host settings).</summary>
    internal static int EditDistance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private const string ConversionPrefix = "The JSON value could not be converted to ";

    /// <summary>
    /// System.Text.Json names the .NET type it wanted (<c>System.Nullable`1[System.Int32]</c>); the person editing
    /// proxy.json needs the JSON value instead (<c>expected an integer</c>).
    /// </summary>
    internal static string Explain(string message)
    {
        if (!message.StartsWith(ConversionPrefix, StringComparison.Ordinal))
        {
            return message;
        }

        var name = message[ConversionPrefix.Length..].TrimEnd('.');
        if (name.StartsWith("System.Nullable`1[", StringComparison.Ordinal) && name.EndsWith(']'))
        {
            name = name["System.Nullable`1[".Length..^1];
        }

        // A constructed generic (Dictionary`2[System.String,Yarp...RouteConfig]) does not resolve by that name, since its
        // arguments would need their assemblies; its definition does, and says as much (an object, an array).
        var type = Resolve(name)
            ?? (name.IndexOf('`', StringComparison.Ordinal) is > 0 and var tick && name.IndexOf('[', tick) is > 0 and var arguments
                ? Resolve(name[..arguments])
                : null);
        return type is not null && Expected(type) is { } expected ? "expected " + expected : message;
    }

    // Type.GetType finds only this assembly's and CoreLib's types: YARP's HeaderMatchMode, HttpVersionPolicy or SameSiteMode
    // were reported by their .NET names. Every type the document holds is loaded by the time the serializer names it.
    private static Type? Resolve(string name) => typeof(ProxyJsonReader).Assembly.GetType(name) ?? Type.GetType(name)
        ?? AppDomain.CurrentDomain.GetAssemblies().Select(assembly => assembly.GetType(name)).FirstOrDefault(type => type is not null);

    private static string? Expected(Type type)
    {
        if (type.IsEnum)
        {
            return "one of " + string.Join(", ", Enum.GetNames(type));
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32
                or TypeCode.Int64 or TypeCode.UInt64 => "an integer",
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number",
            TypeCode.Boolean => "true or false",
            TypeCode.String => "a string",
            _ when type == typeof(TimeSpan) => "a duration such as \"00:01:00\"",
            _ when Implements(type, typeof(IReadOnlyDictionary<,>)) || Implements(type, typeof(IDictionary<,>)) => "an object",
            _ when type.IsArray || Implements(type, typeof(IEnumerable<>)) => "an array",
            _ when type.IsClass || type.IsInterface => "an object",
            _ => null,
        };
    }

    // The type itself (IReadOnlyList<string> is an interface: it is not among its own GetInterfaces()) or one it implements.
    private static bool Implements(Type type, Type genericDefinition) =>
        (type.IsGenericType && type.GetGenericTypeDefinition() == genericDefinition)
        || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == genericDefinition);

    // Where the reader stopped, one-based as editors count: " (line 3, byte 7)", or nothing when it does not say.
    private static string PositionOf(JsonException exception) =>
        exception.LineNumber is { } line ? $" (line {line + 1}, byte {exception.BytePositionInLine + 1})" : "";

    // Utf8JsonReader's words when the text runs out inside an object, array, string or comment, or before a value; not
    // its "invalid after a single JSON value. Expected end of data." for text after the document.
    private static bool EndsTooEarly(JsonException exception) =>
        exception.Message.Contains("at the end of the JSON payload", StringComparison.Ordinal)
        || exception.Message.Contains("reached end of data", StringComparison.Ordinal);

    // System.Text.Json appends "Path: $.x | LineNumber: n | BytePositionInLine: m." which we report in our own words.
    private static string StripPathSuffix(string message)
    {
        var index = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return index > 0 ? message[..index] : message;
    }
}
