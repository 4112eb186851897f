using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Adds <see cref="IdentityHeadersTransform"/> to routes with an <c>EdgeAuthenticate</c> step. YARP applies providers
/// after the route's own transforms, so it runs after every edge step.
/// </summary>
internal sealed class IdentityHeadersTransformProvider(IdentityHeaderNames names, TimeProvider time) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var authenticates = context.Route?.Transforms?.Any(values =>
            EdgeStepRegistry.TryGetStepName(values, out var name) && string.Equals(name, AuthenticateStepFactory.StepName, StringComparison.OrdinalIgnoreCase)) == true;
        if (authenticates)
        {
            context.RequestTransforms.Add(new IdentityHeadersTransform(names, time));
        }
    }
}
