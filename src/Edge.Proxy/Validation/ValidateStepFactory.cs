using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Validation;

/// <summary>Builds <c>EdgeValidate</c> steps from the policies <see cref="ValidationSectionValidator"/> compiled for the served config.</summary>
internal sealed class ValidateStepFactory(ValidationPolicyCache cache, EdgeHostOptions host) : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = ValidateStepValidator.StepName;

    public string Name => StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        var policy = GetPolicy(context.Edge, values[StepName]);
        return new ValidateStep(policy, context.Route.RouteId, context.Services.GetRequiredService<TimeProvider>(), context.Services.GetRequiredService<ILogger<ValidateStep>>());
    }

    /// <summary>A policy that checks the body needs it buffered under its own cap; a query-only policy leaves the body streaming.</summary>
    public EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge)
    {
        if (!edge.Validation.TryGetValue(values[StepName], out var options))
        {
            return null;
        }

        return options.MaxBodyBytes is not null || options.ContentTypes is not null || options.JsonSchema is not null
            ? new EdgeBodyRequirement(options.MaxBodyBytes ?? ValidationPolicyOptions.DefaultMaxBodyBytes)
            : null;
    }

    private ValidationPolicy GetPolicy(EdgeSection edge, string name)
    {
        if (cache.TryGet(edge, name, out var cached) && cached is not null)
        {
            return cached;
        }

        // Only a config that skipped validation gets here (the validator compiles every policy of the served section).
        var options = edge.Validation.TryGetValue(name, out var found)
            ? found
            : throw new InvalidOperationException($"validation policy '{name}' is not defined in Edge:Validation");
        var errors = new ConfigErrorList();
        var baseDirectory = Path.GetDirectoryName(Path.GetFullPath(host.ProxyConfigPath))!;
        return ValidationPolicy.TryCreate(name, options, baseDirectory, errors)
            ?? throw new InvalidOperationException(string.Join("; ", errors.Errors.Select(e => $"{e.Location}: {e.Message}")));
    }
}
