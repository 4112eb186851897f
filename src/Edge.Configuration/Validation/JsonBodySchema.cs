using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Json.Schema;

namespace Edge.Configuration.Validation;

/// <summary>
/// A JSON Schema (draft 2020-12) read from a <c>file:</c> reference and compiled once, with the error reporting the
/// validation step answers with: a JSON pointer into the body and a detail that names the rule, never the offending value.
/// </summary>
internal sealed class JsonBodySchema
{
    /// <summary>The one dialect accepted: a schema written for another draft would be evaluated with different rules.</summary>
    public const string Draft202012 = "https://json-schema.org/draft/2020-12/schema";

    /// <summary>A pointer longer than this (a client can send long property names) is reported as its longest parent that fits.</summary>
    public const int MaxPointerLength = 256;

    // JsonSchema.Net 7 finishes building a schema's keyword constraints lazily, inside evaluation, as an instance first
    // reaches each subschema; concurrent first evaluations of one schema object were seen to drop errors
    // (JsonBodySchemaTests.Evaluate_ConcurrentRequests_SameResultsAsAlone). So each evaluation holds a compiled copy
    // exclusively: the pool grows to the number of concurrent evaluations and its copies are reused from then on.
    private readonly ConcurrentBag<Evaluator> _evaluators = [];
    private readonly string _text;

    // The schema's own JSON, to read a failed keyword's value (a type name, a limit) into the error detail.
    private readonly JsonElement _root;

    private JsonBodySchema(string path, string contentHash, string text, JsonElement root)
    {
        Path = path;
        ContentHash = contentHash;
        _text = text;
        _root = root;
    }

    /// <summary>The resolved file path of the schema.</summary>
    public string Path { get; }

    /// <summary>SHA-256 of the schema file as read, so an edited schema rebuilds the routes that use it.</summary>
    public string ContentHash { get; }

    /// <summary>Reads and compiles the schema; every problem is reported at <paramref name="location"/> without stopping the other checks.</summary>
    public static JsonBodySchema? TryLoad(string reference, string baseDirectory, string location, ConfigErrorList errors)
    {
        if (!reference.StartsWith("file:", StringComparison.Ordinal) || reference.Length == "file:".Length)
        {
            errors.Add(location, "must be a file: reference to a JSON Schema, such as file:schemas/orders.json (relative to proxy.json's folder)");
            return null;
        }

        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(baseDirectory, reference["file:".Length..]));
        byte[] bytes;
        try
        {
            bytes = BoundedFile.ReadAllBytes(path, BoundedFile.MaxSchemaBytes);
        }
        catch (FileTooLargeException)
        {
            errors.Add(location, $"the schema file '{path}' is larger than {BoundedFile.Describe(BoundedFile.MaxSchemaBytes)}");
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add(location, $"the schema file '{path}' {BoundedFile.DescribeReadFailure(ex, path)}");
            return null;
        }

        // Undecodable text would throw out of the reference checks and the schema library below, not return an error.
        if (JsonText.FirstUndecodable(bytes, default) is var undecodable and >= 0)
        {
            var (textLine, at) = JsonText.Position(bytes, undecodable);
            errors.Add(location, $"the schema file '{path}' has a string or name that is not valid UTF-8 (or holds an unpaired surrogate escape such as \\ud800) (line {textLine}, byte {at})");
            return null;
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber is { } l ? $" (line {l + 1}, byte {ex.BytePositionInLine + 1})" : "";
            errors.Add(location, $"the schema file '{path}' is not valid JSON{line}");
            return null;
        }

        if (root.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
        {
            errors.Add(location, $"the schema file '{path}' must hold a JSON object (or true/false)");
            return null;
        }

        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("$schema", out var dialect)
            && (dialect.ValueKind != JsonValueKind.String || dialect.GetString()!.TrimEnd('#') != Draft202012))
        {
            errors.Add(location, $"the schema file '{path}' declares another dialect; only draft 2020-12 ({Draft202012}) is supported");
            return null;
        }

        var before = errors.Errors.Count();
        CheckReferences(root, root, path, location, errors);
        if (errors.Errors.Count() > before)
        {
            return null;
        }

        try
        {
            // Evaluated and described in its rewritten form, so error paths through patternProperties names resolve.
            var text = SchemaPatterns.WithEcmaEndAnchors(root);
            using var rewritten = JsonDocument.Parse(text);
            var schema = new JsonBodySchema(path, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), text, rewritten.RootElement.Clone());
            // The first copy is compiled and run here, once per config generation, so a schema that cannot run is a
            // config error rather than a failing request.
            schema._evaluators.Add(schema.CreateEvaluator());
            return schema;
        }
        catch (Exception ex) when (ex is JsonSchemaException or ArgumentException or JsonException or InvalidOperationException or FormatException or RefResolutionException)
        {
            errors.Add(location, $"the schema file '{path}' is not a valid JSON Schema: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Evaluates <paramref name="body"/>; on failure adds at most <paramref name="maxErrors"/> errors. A valid body costs one
    /// short-circuiting pass; the detailed pass runs only for an invalid one.
    /// </summary>
    public bool Evaluate(JsonElement body, List<BodyError> errors, int maxErrors)
    {
        var evaluator = _evaluators.TryTake(out var pooled) ? pooled : CreateEvaluator();
        EvaluationResults results;
        if (evaluator.Schema.Evaluate(body, evaluator.Flag).IsValid)
        {
            _evaluators.Add(evaluator);
            return true;
        }

        results = evaluator.Schema.Evaluate(body, evaluator.List);
        // Returned only after a clean run: one that threw mid-evaluation may hold half-built keyword constraints.
        _evaluators.Add(evaluator);

        Collect(results, body, errors, maxErrors);
        foreach (var detail in results.Details ?? [])
        {
            if (errors.Count >= maxErrors)
            {
                break;
            }

            Collect(detail, body, errors, maxErrors);
        }

        if (errors.Count == 0)
        {
            errors.Add(new BodyError("", "does not match the schema"));
        }

        return false;
    }

    private Evaluator CreateEvaluator()
    {
        // Options of its own, each with its own registry: schemas of different config generations may share an $id.
        var evaluator = new Evaluator(
            JsonSchema.FromText(_text),
            new EvaluationOptions { OutputFormat = OutputFormat.Flag, EvaluateAs = SpecVersion.Draft202012 },
            new EvaluationOptions { OutputFormat = OutputFormat.List, EvaluateAs = SpecVersion.Draft202012 });
        using var probe = JsonDocument.Parse("null");
        evaluator.Schema.Evaluate(probe.RootElement, evaluator.Flag);
        evaluator.Schema.Evaluate(probe.RootElement, evaluator.List);
        return evaluator;
    }

    private void Collect(EvaluationResults result, JsonElement body, List<BodyError> errors, int maxErrors)
    {
        if (result.Errors is not { Count: > 0 } failed)
        {
            return;
        }

        var pointer = result.InstanceLocation.ToString();
        var subschema = Follow(result.EvaluationPath.ToString())
            ?? Resolve(_root, result.SchemaLocation.Fragment.Length > 1 ? Uri.UnescapeDataString(result.SchemaLocation.Fragment[1..]) : "");
        foreach (var keyword in failed.Keys)
        {
            if (keyword == "required" && subschema is { ValueKind: JsonValueKind.Object } schema && Resolve(body, pointer) is { ValueKind: JsonValueKind.Object } instance)
            {
                foreach (var property in Names(schema, "required").Where(name => !instance.TryGetProperty(name, out _)))
                {
                    Add(errors, maxErrors, pointer, $"required property missing: {property}");
                }

                continue;
            }

            Add(errors, maxErrors, pointer, Describe(keyword, subschema, result.EvaluationPath.ToString()));
        }
    }

    private static void Add(List<BodyError> errors, int maxErrors, string pointer, string detail)
    {
        if (errors.Count >= maxErrors)
        {
            return;
        }

        while (pointer.Length > MaxPointerLength)
        {
            pointer = pointer[..pointer.LastIndexOf('/')];
        }

        var error = new BodyError(pointer, detail);
        if (!errors.Contains(error))
        {
            errors.Add(error);
        }
    }

    /// <summary>
    /// The subschema an evaluation path leads to, following <c>$ref</c> segments through the schema's own JSON (every
    /// reference is local, <see cref="CheckReferences"/>); null where the path cannot be followed (an anchor reference).
    /// </summary>
    private JsonElement? Follow(string evaluationPath)
    {
        var element = _root;
        if (evaluationPath.Length == 0)
        {
            return element;
        }

        foreach (var raw in evaluationPath[1..].Split('/'))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (token == "$ref" && element.ValueKind == JsonValueKind.Object && element.TryGetProperty("$ref", out var reference)
                && reference.GetString() is ['#', '/', ..] or "#" && Resolve(_root, Uri.UnescapeDataString(reference.GetString()![1..])) is { } target)
            {
                element = target;
            }
            else if (Resolve(element, "/" + raw) is { } child)
            {
                element = child;
            }
            else
            {
                return null;
            }
        }

        return element;
    }

    /// <summary>Names the rule a value broke, with the schema's own limit where there is one; never the value itself.</summary>
    private static string Describe(string keyword, JsonElement? subschema, string evaluationPath)
    {
        var value = subschema is { ValueKind: JsonValueKind.Object } schema && keyword.Length > 0 && schema.TryGetProperty(keyword, out var v) ? v : (JsonElement?)null;
        var limit = value is { ValueKind: JsonValueKind.Number } number ? number.GetRawText() : "the limit";
        return keyword switch
        {
            "type" => "expected type " + (value is { ValueKind: JsonValueKind.Array } types
                ? string.Join(" or ", types.EnumerateArray().Select(t => t.ToString()))
                : value?.ToString() ?? "other"),
            "enum" => "value is not one of the allowed values",
            "const" => "value is not the allowed constant",
            "minimum" => $"must be at least {limit}",
            "maximum" => $"must be at most {limit}",
            "exclusiveMinimum" => $"must be greater than {limit}",
            "exclusiveMaximum" => $"must be less than {limit}",
            "multipleOf" => $"must be a multiple of {limit}",
            "minLength" => $"must be at least {limit} characters long",
            "maxLength" => $"must be at most {limit} characters long",
            "pattern" => "does not match the required pattern",
            "format" => $"must be a valid {value?.ToString() ?? "value of its format"}",
            "minItems" => $"must have at least {limit} items",
            "maxItems" => $"must have at most {limit} items",
            "uniqueItems" => "items must be unique",
            "contains" => "must contain an item that matches the contains schema",
            "minContains" => $"must contain at least {limit} matching items",
            "maxContains" => $"must contain at most {limit} matching items",
            "minProperties" => $"must have at least {limit} properties",
            "maxProperties" => $"must have at most {limit} properties",
            "dependentRequired" => "a property required by another present property is missing",
            "propertyNames" => "a property name breaks the propertyNames rule",
            "oneOf" => "must match exactly one of the oneOf schemas",
            "anyOf" => "must match at least one of the anyOf schemas",
            "not" => "must not match the not schema",
            // A false schema fails every value; where it sits says what is not allowed.
            "" when evaluationPath.EndsWith("/additionalProperties", StringComparison.Ordinal)
                || evaluationPath.EndsWith("/unevaluatedProperties", StringComparison.Ordinal) => "property not allowed",
            "" when evaluationPath.EndsWith("/items", StringComparison.Ordinal)
                || evaluationPath.EndsWith("/unevaluatedItems", StringComparison.Ordinal) => "item not allowed",
            "" => "value not allowed",
            _ => string.Create(CultureInfo.InvariantCulture, $"breaks the '{keyword}' rule"),
        };
    }

    private static IEnumerable<string> Names(JsonElement schema, string keyword) =>
        schema.TryGetProperty(keyword, out var names) && names.ValueKind == JsonValueKind.Array
            ? names.EnumerateArray().Where(n => n.ValueKind == JsonValueKind.String).Select(n => n.GetString()!)
            : [];

    /// <summary>The element at an RFC 6901 pointer, or null when there is none.</summary>
    internal static JsonElement? Resolve(JsonElement root, string pointer)
    {
        if (pointer.Length == 0)
        {
            return root;
        }

        if (pointer[0] != '/')
        {
            return null;
        }

        var element = root;
        foreach (var raw in pointer[1..].Split('/'))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty(token, out var child))
            {
                element = child;
            }
            else if (element.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < element.GetArrayLength())
            {
                element = element[index];
            }
            else
            {
                return null;
            }
        }

        return element;
    }

    /// <summary>
    /// A schema must be self-contained: the edge fetches nothing at run time, so every <c>$ref</c> must point into the same
    /// file (<c>#/$defs/x</c> or a <c>#anchor</c>) and resolve there. A broken reference is a config error, not a 500 later.
    /// </summary>
    private static void CheckReferences(JsonElement element, JsonElement root, string path, string location, ConfigErrorList errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name is "$ref" or "$dynamicRef" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        var target = property.Value.GetString()!;
                        if (!target.StartsWith('#'))
                        {
                            errors.Add(location, $"the schema file '{path}' references '{target}'; only references inside the file (#/$defs/...) are supported");
                        }
                        else if (target.Length > 1 && target[1] == '/' ? Resolve(root, Uri.UnescapeDataString(target[1..])) is null : target.Length > 1 && !HasAnchor(root, target[1..]))
                        {
                            errors.Add(location, $"the schema file '{path}' references '{target}', which it does not define");
                        }
                    }
                    else
                    {
                        CheckReferences(property.Value, root, path, location, errors);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CheckReferences(item, root, path, location, errors);
                }

                break;
        }
    }

    /// <summary>A compiled copy of the schema with its evaluation options, used by one evaluation at a time.</summary>
    private sealed record Evaluator(JsonSchema Schema, EvaluationOptions Flag, EvaluationOptions List);

    private static bool HasAnchor(JsonElement element, string anchor) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Any(p =>
            (p.Name is "$anchor" or "$dynamicAnchor" && p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() == anchor) || HasAnchor(p.Value, anchor)),
        JsonValueKind.Array => element.EnumerateArray().Any(item => HasAnchor(item, anchor)),
        _ => false,
    };
}

/// <summary>One schema violation as the client sees it: where (an RFC 6901 pointer into the body) and which rule.</summary>
internal sealed record BodyError(string Pointer, string Detail);
