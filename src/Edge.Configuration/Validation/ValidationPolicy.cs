using System.Text.RegularExpressions;

namespace Edge.Configuration.Validation;

/// <summary>
/// A validation policy ready to serve: options checked, the schema read and compiled, query patterns compiled. Built once
/// per config generation by <see cref="ValidationSectionValidator"/>.
/// </summary>
internal sealed class ValidationPolicy
{
    /// <summary>How long one query pattern may run against one value before the value is refused.</summary>
    public static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(100);

    private ValidationPolicy(string name, long? maxBodyBytes, IReadOnlyList<MediaTypeRule> contentTypes, JsonBodySchema? schema, int maxJsonDepth, QueryRules? query)
    {
        Name = name;
        MaxBodyBytes = maxBodyBytes;
        ContentTypes = contentTypes;
        Schema = schema;
        MaxJsonDepth = maxJsonDepth;
        Query = query;
    }

    public string Name { get; }

    /// <summary>The body cap, or null when the policy does not look at the body (query rules only): such a route is not buffered.</summary>
    public long? MaxBodyBytes { get; }

    /// <summary>Accepted media types; empty accepts any.</summary>
    public IReadOnlyList<MediaTypeRule> ContentTypes { get; }

    public JsonBodySchema? Schema { get; }

    public int MaxJsonDepth { get; }

    public QueryRules? Query { get; }

    public bool ChecksBody => MaxBodyBytes is not null;

    /// <summary>Builds the policy; every problem is added to <paramref name="errors"/> under <c>Edge:Validation:{name}</c>.</summary>
    public static ValidationPolicy? TryCreate(string name, ValidationPolicyOptions options, string baseDirectory, ConfigErrorList errors)
    {
        var location = $"Edge:Validation:{name}";
        var before = errors.Errors.Count();

        if (options.MaxBodyBytes is < 1 or > ValidationPolicyOptions.MaxAllowedBodyBytes)
        {
            errors.Add(location + ":MaxBodyBytes", $"must be between 1 and {ValidationPolicyOptions.MaxAllowedBodyBytes} (25 MiB)");
        }

        if (options.MaxJsonDepth is < 1 or > ValidationPolicyOptions.MaxAllowedJsonDepth)
        {
            errors.Add(location + ":MaxJsonDepth", $"must be between 1 and {ValidationPolicyOptions.MaxAllowedJsonDepth}");
        }

        JsonBodySchema? schema = null;
        if (options.JsonSchema is { } reference)
        {
            schema = JsonBodySchema.TryLoad(reference, baseDirectory, location + ":JsonSchema", errors);
        }

        var contentTypes = new List<MediaTypeRule>();
        if (options.ContentTypes is { } types)
        {
            if (types.Count == 0)
            {
                errors.Add(location + ":ContentTypes", "list at least one media type, or leave ContentTypes out to accept any");
            }

            for (var i = 0; i < types.Count; i++)
            {
                if (MediaTypeRule.TryParse(types[i], out var rule))
                {
                    contentTypes.Add(rule);
                }
                else
                {
                    errors.Add($"{location}:ContentTypes[{i}]", $"'{types[i]}' is not a media type such as application/json, application/* or application/*+json");
                }
            }
        }
        else if (options.JsonSchema is not null)
        {
            MediaTypeRule.TryParse("application/json", out var json);
            contentTypes.Add(json);
        }

        var query = options.Query is { } queryOptions ? QueryRules.TryCreate(queryOptions, location + ":Query", errors) : null;
        if (options.MaxBodyBytes is null && options.ContentTypes is null && options.JsonSchema is null && options.MaxJsonDepth is null && options.Query is null)
        {
            errors.Add(location, "the policy checks nothing; set MaxBodyBytes, ContentTypes, JsonSchema or Query");
        }

        if (options.MaxJsonDepth is not null && options.JsonSchema is null)
        {
            errors.Add(location + ":MaxJsonDepth", "only applies with JsonSchema (a body that is not checked as JSON is not parsed)");
        }

        if (errors.Errors.Count() > before)
        {
            return null;
        }

        var checksBody = options.MaxBodyBytes is not null || options.ContentTypes is not null || options.JsonSchema is not null;
        return new ValidationPolicy(
            name,
            checksBody ? options.MaxBodyBytes ?? ValidationPolicyOptions.DefaultMaxBodyBytes : null,
            contentTypes,
            schema,
            options.MaxJsonDepth ?? ValidationPolicyOptions.DefaultMaxJsonDepth,
            query);
    }
}

/// <summary>One accepted media type: exact (<c>application/json</c>), any subtype (<c>application/*</c>) or a structured suffix (<c>application/*+json</c>).</summary>
internal readonly record struct MediaTypeRule(string Type, string? Subtype, string? Suffix)
{
    public static bool TryParse(string text, out MediaTypeRule rule)
    {
        rule = default;
        var parts = text.Trim().Split('/');
        if (parts.Length != 2 || !HttpToken.IsToken(parts[0]) || parts[0] == "*" || parts[1].Length == 0)
        {
            return false;
        }

        var subtype = parts[1];
        if (subtype == "*")
        {
            rule = new MediaTypeRule(parts[0], null, null);
            return true;
        }

        if (subtype.StartsWith("*+", StringComparison.Ordinal) && HttpToken.IsToken(subtype.AsSpan(2)))
        {
            rule = new MediaTypeRule(parts[0], null, subtype[1..]);
            return true;
        }

        if (!HttpToken.IsToken(subtype))
        {
            return false;
        }

        rule = new MediaTypeRule(parts[0], subtype, null);
        return true;
    }

    /// <summary>Whether a request's media type (without parameters) is accepted; case-insensitive as RFC 9110 says.</summary>
    public bool Matches(ReadOnlySpan<char> mediaType)
    {
        var slash = mediaType.IndexOf('/');
        if (slash <= 0 || !mediaType[..slash].Equals(Type, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var subtype = mediaType[(slash + 1)..];
        return Subtype is not null ? subtype.Equals(Subtype, StringComparison.OrdinalIgnoreCase)
            : Suffix is not null ? subtype.Length > Suffix.Length && subtype.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase)
            : subtype.Length > 0;
    }

    public override string ToString() => $"{Type}/{Subtype ?? (Suffix is null ? "*" : "*" + Suffix)}";

}

/// <summary>The compiled query-string rules of a policy.</summary>
internal sealed class QueryRules
{
    private QueryRules(bool allowUnknown, IReadOnlyDictionary<string, QueryParameterRule> parameters)
    {
        AllowUnknown = allowUnknown;
        Parameters = parameters;
    }

    public bool AllowUnknown { get; }

    /// <summary>
    /// Rules by parameter name, compared case-insensitively: some backends read <c>PAGE</c> as <c>page</c>, so a rule that
    /// let <c>PAGE</c> through unchecked could be bypassed by changing case.
    /// </summary>
    public IReadOnlyDictionary<string, QueryParameterRule> Parameters { get; }

    public static QueryRules? TryCreate(QueryRulesOptions options, string location, ConfigErrorList errors)
    {
        var parameters = new Dictionary<string, QueryParameterRule>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, rule) in options.Parameters)
        {
            var where = $"{location}:Parameters:{name}";
            if (name.Length == 0)
            {
                errors.Add(where, "a parameter name must not be empty");
                continue;
            }

            // Names compare case-insensitively (the rules apply to PAGE as to page), so a second entry in another case
            // replaced the first: the first rule's Pattern or Required was silently gone.
            if (parameters.Keys.FirstOrDefault(known => string.Equals(known, name, StringComparison.OrdinalIgnoreCase)) is { } first)
            {
                errors.Add(where, $"'{name}' is given twice: query parameter names are case-insensitive, and '{first}' is already defined; keep one");
                continue;
            }

            if (rule.MaxLength is < 0)
            {
                errors.Add(where + ":MaxLength", "must be 0 or more");
            }

            Regex? pattern = null;
            if (rule.Pattern is { } text)
            {
                try
                {
                    // Anchored so that a rule like [0-9]+ means "only digits", not "contains a digit".
                    pattern = new Regex($@"\A(?:{text})\z", RegexOptions.CultureInvariant, ValidationPolicy.PatternTimeout);
                }
                catch (ArgumentException ex)
                {
                    errors.Add(where + ":Pattern", $"not a valid regular expression: {ex.Message}");
                }
            }

            parameters[name] = new QueryParameterRule(rule.Required, pattern, rule.MaxLength);
        }

        return new QueryRules(options.AllowUnknown, parameters);
    }
}

/// <summary>The rule for one query parameter.</summary>
internal sealed record QueryParameterRule(bool Required, Regex? Pattern, int? MaxLength);
