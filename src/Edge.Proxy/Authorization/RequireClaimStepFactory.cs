using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>Builds <c>EdgeRequireClaim</c> steps from options that <see cref="RequireClaimStepValidator"/> accepted.</summary>
internal sealed class RequireClaimStepFactory : IEdgeStepFactory
{
    public string Name => RequireClaimStepValidator.StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        if (!RequireClaimStepValidator.TryParse(values, out var claim, out var allowed, out var list, out _, out var error))
        {
            throw new InvalidOperationException(error);
        }

        return new RequireClaimStep(claim, allowed, list);
    }
}
