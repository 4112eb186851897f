namespace Edge.Configuration.Validation;

/// <summary>A named request validation policy (<c>Edge:Validation:{name}</c> in proxy.json), run by the <c>EdgeValidate</c> step.</summary>
internal sealed record ValidationPolicyOptions
{
    /// <summary>The largest body a policy may allow (the same ceiling as webhook policies).</summary>
    public const long MaxAllowedBodyBytes = 25L * 1024 * 1024;

    /// <summary>1 MiB, the body cap when a policy checks the body and names no cap.</summary>
    public const long DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>The nesting the JSON body may have when <see cref="MaxJsonDepth"/> is not set (System.Text.Json's own default).</summary>
    public const int DefaultMaxJsonDepth = 64;

    /// <summary>The deepest nesting a policy may allow.</summary>
    public const int MaxAllowedJsonDepth = 256;

    /// <summary>Bodies larger than this are refused with 413 and never forwarded (at most 25 MiB; 1 MiB when the policy checks the body otherwise).</summary>
    public long? MaxBodyBytes { get; init; }

    /// <summary>
    /// Media types a request body may have, such as <c>application/json</c> or <c>application/*</c>; parameters such as
    /// <c>charset</c> are ignored. A body of another type is refused with 415. Default: <c>application/json</c> when
    /// <see cref="JsonSchema"/> is set, otherwise any type.
    /// </summary>
    public IReadOnlyList<string>? ContentTypes { get; init; }

    /// <summary>A <c>file:</c> reference to a JSON Schema (draft 2020-12) the body must satisfy; a relative path is relative to proxy.json's folder.</summary>
    public string? JsonSchema { get; init; }

    /// <summary>How deeply a JSON body may nest objects and arrays (default 64, at most 256); deeper bodies are refused before schema evaluation.</summary>
    public int? MaxJsonDepth { get; init; }

    /// <summary>Rules for the query string.</summary>
    public QueryRulesOptions? Query { get; init; }
}

/// <summary>The query-string rules of a validation policy (<c>Edge:Validation:{name}:Query</c>).</summary>
internal sealed record QueryRulesOptions
{
    /// <summary>Whether parameters not listed in <see cref="Parameters"/> are accepted (true by default).</summary>
    public bool AllowUnknown { get; init; } = true;

    /// <summary>Rules per parameter name; names are compared case-insensitively (<c>PAGE</c> is checked by the rule for <c>page</c>).</summary>
    public IReadOnlyDictionary<string, QueryParameterOptions> Parameters { get; init; } = new Dictionary<string, QueryParameterOptions>();
}

/// <summary>The rule for one query parameter; every value of a repeated parameter must pass it.</summary>
internal sealed record QueryParameterOptions
{
    /// <summary>The parameter must be present (an empty value counts as present).</summary>
    public bool Required { get; init; }

    /// <summary>A .NET regular expression the whole decoded value must match (it is anchored for you).</summary>
    public string? Pattern { get; init; }

    /// <summary>The longest decoded value accepted, in characters.</summary>
    public int? MaxLength { get; init; }
}
