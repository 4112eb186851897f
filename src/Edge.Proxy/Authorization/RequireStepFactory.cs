using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>Builds <c>EdgeRequire</c> steps from options that <see cref="RequireStepValidator"/> accepted.</summary>
internal sealed class RequireStepFactory : IEdgeStepFactory
{
    public string Name => RequireStepValidator.StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        if (!RequireStepValidator.TryParse(values, out var permissions, out var mode, out _, out var error))
        {
            throw new InvalidOperationException(error);
        }

        return new RequireStep(permissions, mode);
    }
}
