
namespace Edge.Configuration.RateLimiting;

/// <summary>Validates <c>EdgeRateLimit</c> step options: <c>{ "EdgeRateLimit": "policy-name" }</c>.</summary>
internal sealed class RateLimitStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeRateLimit";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName);
        var name = values[StepName];
        if (string.IsNullOrWhiteSpace(name))
        {
            context.AddError(StepName, "needs the name of a policy in Edge:RateLimits");
            return;
        }

        if (!context.Edge.RateLimits.TryGetValue(name, out var options) || options is null)
        {
            var known = context.Edge.RateLimits.Count == 0 ? "(none)" : string.Join(", ", context.Edge.RateLimits.Keys.Order(StringComparer.Ordinal));
            context.AddError(StepName, $"rate-limit policy '{name}' is not defined in Edge:RateLimits; defined: {known}");
            return;
        }

        // The policy's own errors are reported once, by RateLimitSectionValidator, under Edge:RateLimits.
        var key = RateLimitKeyTemplate.TryParse(options.Key, out _);
        if (key is null)
        {
            return;
        }

        if (key.UsesBody && !context.PrecedingSteps.Contains("EdgeWebhook", StringComparer.OrdinalIgnoreCase))
        {
            context.AddWarning(StepName, $"policy '{name}' keys on the request body but no EdgeWebhook step verifies the body before it: " +
                "an unverified body lets any caller spend another sender's quota");
        }

        if (key.Text.Contains("{principal}", StringComparison.OrdinalIgnoreCase) && !context.PrecedingSteps.Contains("EdgeAuthenticate", StringComparer.OrdinalIgnoreCase))
        {
            context.AddWarning(StepName, $"policy '{name}' keys on {{principal}} but no EdgeAuthenticate step runs before it: every caller shares the anonymous partition");
        }

        var tenantBefore = context.PrecedingSteps.Contains("EdgeTenant", StringComparer.OrdinalIgnoreCase);

        // A later EdgeTenant step that finds a tenant replaces the one this step limited by (part of every partition):
        // Static acme, this step, then an optional Header counted every request as acme and served one naming globex
        // as globex, limited by no bucket of its own.
        if (tenantBefore && TenantStepFollows(context))
        {
            context.AddError(StepName, $"an EdgeTenant step listed after it can replace the tenant policy '{name}' limited this request by (the tenant is part of " +
                "every partition), so a request would be limited as one tenant and served as another; list every EdgeTenant step before EdgeRateLimit");
        }

        // The tenant is set only by EdgeTenant; listed after this step, every request is limited as tenant ~none,
        // so one tenant's traffic spends every other tenant's quota.
        if (key.Text.Contains("{tenant}", StringComparison.OrdinalIgnoreCase) && !tenantBefore)
        {
            if (TenantStepFollows(context))
            {
                context.AddError(StepName, $"policy '{name}' keys on {{tenant}} but the route's EdgeTenant step is listed after it: every tenant would share one bucket; list EdgeTenant before EdgeRateLimit");
            }
            else
            {
                context.AddWarning(StepName, $"policy '{name}' keys on {{tenant}} but the route has no EdgeTenant step: every caller shares one bucket");
            }
        }
        else if (!tenantBefore && TenantStepFollows(context))
        {
            // Any other key: the partition's tenant prefix is ~none for every request, so the tenants of one address (one
            // principal, one header value) share a bucket. A limit before the tenant is known may be meant; it is said.
            var parts = string.Join(", ", key.Segments.Where(s => s.Kind != RateLimitKeyTemplate.SegmentKind.Literal)
                .Select(s => s.Kind == RateLimitKeyTemplate.SegmentKind.Header ? $"{{header:{s.Argument}}}"
                    : s.Kind == RateLimitKeyTemplate.SegmentKind.Body ? $"{{body:{s.Argument}}}"
                    : "{" + s.Kind.ToString().ToLowerInvariant() + "}"));
            context.AddWarning(StepName, $"policy '{name}' runs before the route's EdgeTenant step, so the tenant is not part of its partitions: every tenant shares " +
                $"each {(parts.Length == 0 ? "" : parts + " ")}bucket; list EdgeTenant before EdgeRateLimit to limit each tenant separately, or use the route's RateLimiterPolicy " +
                "for a limit meant to apply before the tenant is known");
        }
    }

    private static bool TenantStepFollows(EdgeStepValidationContext context)
    {
        var transforms = context.Route.Transforms;
        if (transforms is null)
        {
            return false;
        }

        for (var i = context.TransformIndex + 1; i < transforms.Count; i++)
        {
            if (EdgeStepValidators.TryGetStepName(transforms[i], out var step) && string.Equals(step, "EdgeTenant", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
