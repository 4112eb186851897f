using Microsoft.AspNetCore.Routing.Patterns;

namespace Edge.Configuration.Tenancy;

/// <summary>Validates <c>EdgeTenant</c> step options.</summary>
internal sealed class TenantStepValidator(EdgeHostOptions host) : IEdgeStepValidator
{
    public const string StepName = "EdgeTenant";

    private static readonly string[] KnownKeys = ["Name", "RouteValue", "Segment", "Value", "Required"];

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName, KnownKeys);
        if (!TryParse(values, out var options, out var field, out var error))
        {
            context.AddError(field, error);
            return;
        }

        // The edge removes every client header under its identity prefix ('_' counting as '-') before any step runs: a
        // tenant header named under it never reached the step, and every request of the route was refused tenant_missing.
        if (options.Source == TenantSource.Header && IdentityHeaderPrefix.Covers(host.IdentityHeaderPrefix, options.Name!))
        {
            context.AddError("Name", $"'{options.Name}' is removed from every request before the steps run (client headers starting with the identity prefix '{host.IdentityHeaderPrefix}', '_' counting as '-', belong to the edge); read the tenant from another header");
        }
        else if (options.Source == TenantSource.Header && EdgeOwnedHeaders.WhyOwned(options.Name!) is { } owned)
        {
            // X-Request-Id made every request a tenant of its own (and per-tenant limits and quotas counted nothing).
            context.AddError("Name", $"{owned}; read the tenant from another header");
        }

        if (options.Source == TenantSource.Claim && !context.PrecedingSteps.Contains("EdgeAuthenticate", StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "the Claim source needs an EdgeAuthenticate step listed before EdgeTenant");
        }

        if (options.Source == TenantSource.Path && options.RouteValue is { } routeValue
            && context.Route.Match.Path is { } pattern
            && ParameterNames(pattern) is { } names
            && !names.Contains(routeValue, StringComparer.OrdinalIgnoreCase))
        {
            // The text of the path was searched for "{" + RouteValue: "ten" passed for /t/{tenant}/…, and every request
            // of the route was refused tenant_missing, since the router has no value by that name.
            context.AddError("RouteValue", $"route value '{routeValue}' is not a parameter of the route's Match.Path '{pattern}'"
                + (names.Count == 0 ? "" : $" (its parameters: {string.Join(", ", names)})"));
        }
    }

    // Null when the path does not parse: that is Match.Path's own error, reported there.
    private static IReadOnlyList<string>? ParameterNames(string pattern)
    {
        try
        {
            return [.. RoutePatternFactory.Parse(pattern).Parameters.Select(static p => p.Name)];
        }
        catch (RoutePatternException)
        {
            return null;
        }
    }

    internal static bool TryParse(IReadOnlyDictionary<string, string> values, out TenantStepOptions options, out string field, out string error)
    {
        options = new TenantStepOptions();
        field = StepName;
        error = "";
        var sourceText = values[StepName];
        if (!EnumName.TryParse<TenantSource>(sourceText, out var source))
        {
            error = $"unknown tenant source '{sourceText}'; use Header, Host, Path, Claim or Static";
            return false;
        }

        values.TryGetValue("Name", out var name);
        values.TryGetValue("RouteValue", out var routeValue);
        values.TryGetValue("Value", out var value);
        var required = true;
        if (values.TryGetValue("Required", out var requiredText) && !bool.TryParse(requiredText, out required))
        {
            field = "Required";
            error = $"'{requiredText}' is not true or false";
            return false;
        }

        int? segment = null;
        if (values.TryGetValue("Segment", out var segmentText))
        {
            if (!int.TryParse(segmentText, out var parsed) || parsed < 0)
            {
                field = "Segment";
                error = $"'{segmentText}' is not a non-negative path segment index";
                return false;
            }

            segment = parsed;
        }

        switch (source)
        {
            case TenantSource.Header or TenantSource.Claim when string.IsNullOrWhiteSpace(name):
                field = "Name";
                error = $"the {source} source needs Name (the {(source == TenantSource.Header ? "header" : "claim")} to read)";
                return false;
            case TenantSource.Header when !HttpToken.IsToken(name):
                // No request can carry such a header: every request was refused tenant_missing.
                field = "Name";
                error = $"'{name}' is not a header name ({HttpToken.NameRule})";
                return false;
            case TenantSource.Path when string.IsNullOrWhiteSpace(routeValue) == (segment is null):
                field = "RouteValue";
                error = "the Path source needs exactly one of RouteValue or Segment";
                return false;
            case TenantSource.Static when value is null || !TenantId.IsValid(value):
                field = "Value";
                error = $"the Static source needs Value, a tenant id of 1-{TenantId.MaxLength} characters from [A-Za-z0-9._-], not dots only";
                return false;
        }

        options = new TenantStepOptions
        {
            Source = source,
            Name = name,
            RouteValue = routeValue,
            Segment = segment,
            Value = value,
            Required = required,
        };
        return true;
    }
}
