using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Edge.Configuration.Validation;

/// <summary>
/// Gives a schema's regular expressions the end anchor JSON Schema means. Patterns are ECMA-262 (draft 2020-12 §6.4),
/// where <c>$</c> without the multiline flag is the end of the input; .NET, which JsonSchema.Net runs them with, also
/// matches <c>$</c> before a final <c>\n</c>, so <c>"EUR\n"</c> passed <c>^[A-Z]{3}$</c> and reached the backend.
/// Every <c>$</c> anchor of a <c>pattern</c> and of a <c>patternProperties</c> name becomes <c>(?!\n)$</c>.
/// </summary>
internal static class SchemaPatterns
{
    private const string EndOfInput = @"(?!\n)$";

    // The 2020-12 keywords whose value is a schema, an array of schemas, or a map of names to schemas. Values of other
    // keywords (const, enum, default, examples) are data: a "pattern" member there is not a regular expression.
    private static readonly HashSet<string> SchemaValued = new(StringComparer.Ordinal)
    {
        "items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "contains", "propertyNames",
        "not", "if", "then", "else", "contentSchema",
    };

    private static readonly HashSet<string> SchemaArrays = new(StringComparer.Ordinal) { "prefixItems", "allOf", "anyOf", "oneOf" };

    private static readonly HashSet<string> SchemaMaps = new(StringComparer.Ordinal)
    {
        "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
    };

    /// <summary>The schema's JSON text with every pattern's end anchors rewritten.</summary>
    public static string WithEcmaEndAnchors(JsonElement schema)
    {
        var node = JsonNode.Parse(schema.GetRawText());
        Rewrite(node);
        return node?.ToJsonString() ?? "null";
    }

    /// <summary>
    /// <paramref name="pattern"/> with each <c>$</c> anchor made end-of-input only. Escaped characters and character
    /// classes are copied as they are, read as .NET reads them (a <c>]</c> right after <c>[</c> or <c>[^</c> is literal).
    /// </summary>
    public static string EndAnchors(string pattern)
    {
        if (!pattern.Contains('$', StringComparison.Ordinal))
        {
            return pattern;
        }

        var result = new StringBuilder(pattern.Length + 8);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                result.Append(c).Append(pattern[++i]);
            }
            else if (inClass)
            {
                inClass = c != ']';
                result.Append(c);
            }
            else if (c == '[')
            {
                inClass = true;
                result.Append(c);
                if (i + 1 < pattern.Length && pattern[i + 1] == '^')
                {
                    result.Append(pattern[++i]);
                }

                if (i + 1 < pattern.Length && pattern[i + 1] == ']')
                {
                    result.Append(pattern[++i]);
                }
            }
            else
            {
                result.Append(c == '$' ? EndOfInput : c);
            }
        }

        return result.ToString();
    }

    private static void Rewrite(JsonNode? schema)
    {
        if (schema is not JsonObject members)
        {
            return;
        }

        foreach (var (name, value) in members.ToList())
        {
            if (name == "pattern" && value is JsonValue text && text.TryGetValue<string>(out var pattern))
            {
                members[name] = EndAnchors(pattern);
            }
            else if (SchemaValued.Contains(name))
            {
                Rewrite(value);
            }
            else if (SchemaArrays.Contains(name) && value is JsonArray array)
            {
                foreach (var item in array)
                {
                    Rewrite(item);
                }
            }
            else if (SchemaMaps.Contains(name) && value is JsonObject map)
            {
                foreach (var (key, subschema) in map.ToList())
                {
                    Rewrite(subschema);
                    if (name == "patternProperties" && EndAnchors(key) is var anchored && anchored != key)
                    {
                        map.Remove(key);
                        map[anchored] = subschema;
                    }
                }
            }
        }
    }
}
