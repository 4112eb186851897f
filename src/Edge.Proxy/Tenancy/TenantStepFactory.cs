using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Tenancy;

/// <summary>Builds <c>EdgeTenant</c> steps from options that <see cref="TenantStepValidator"/> accepted.</summary>
internal sealed class TenantStepFactory : IEdgeStepFactory
{
    public const string StepName = TenantStepValidator.StepName;

    public string Name => StepName;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        if (!TenantStepValidator.TryParse(values, out var options, out _, out var error))
        {
            throw new InvalidOperationException(error);
        }

        return new TenantStep(options, context.Edge.Tenancy.ForwardHeader);
    }
}
