using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

/// <summary>Builds <c>EdgeRateLimit</c> steps from options that <see cref="RateLimitStepValidator"/> accepted.</summary>
internal sealed class RateLimitStepFactory(RateLimiterRegistry registry, TimeProvider time) : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = RateLimitStepValidator.StepName;

    public string Name => StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        var name = values[StepName];
        var errors = new ConfigErrorList();
        var policy = RateLimitPolicy.TryCreate(name, context.Edge.RateLimits[name], errors)
            ?? throw new InvalidOperationException($"rate-limit policy '{name}' is invalid: {string.Join("; ", errors.Errors)}");
        var rateLimitSteps = context.Route.Transforms?.Count(transform =>
            EdgeStepRegistry.TryGetStepName(transform, out var step) && string.Equals(step, StepName, StringComparison.OrdinalIgnoreCase)) ?? 0;
        // A route's RateLimiterPolicy decides on the same response (RoutePolicyRateLimitingMiddleware).
        var routePolicy = context.Route.Metadata?.ContainsKey(EdgeRouteRateLimiterPolicy.MetadataKey) == true
            || EdgeRouteRateLimiterPolicy.IsEdgePolicyName(context.Route.RateLimiterPolicy);
        return new RateLimitStep(registry.GetOrCreate(policy), time, oneOfSeveral: rateLimitSteps > 1 || routePolicy);
    }

    /// <summary>A <c>{body:/pointer}</c> key reads the body, under whatever cap the route's other steps set.</summary>
    public EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge) =>
        values.TryGetValue(StepName, out var name)
        && edge.RateLimits.TryGetValue(name, out var options)
        && options is not null
        && RateLimitKeyTemplate.TryParse(options.Key, out _) is { UsesBody: true }
            ? EdgeBodyRequirement.Any
            : null;
}
