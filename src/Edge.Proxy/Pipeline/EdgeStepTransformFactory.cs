using Edge.Proxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Bridges route transform entries whose first key starts with <c>Edge</c> to the registered step factories.
/// Semantic validation against the candidate Edge section happens in <see cref="EdgeConfigValidator"/> before a
/// config is accepted; here only the step name is checked, because YARP validates again when it applies the config.
/// </summary>
internal sealed class EdgeStepTransformFactory(EdgeStepRegistry registry, EdgeConfigState state, EdgeDecisions decisions) : ITransformFactory
{
    public bool Validate(TransformRouteValidationContext context, IReadOnlyDictionary<string, string> transformValues)
    {
        if (!EdgeStepRegistry.TryGetStepName(transformValues, out var name))
        {
            return false;
        }

        if (!registry.TryGet(name, out _))
        {
            context.Errors.Add(new ArgumentException(registry.UnknownStepMessage(name)));
        }

        return true;
    }

    public bool Build(TransformBuilderContext context, IReadOnlyDictionary<string, string> transformValues)
    {
        if (!EdgeStepRegistry.TryGetStepName(transformValues, out var name))
        {
            return false;
        }

        if (!registry.TryGet(name, out var factory))
        {
            throw new ArgumentException(registry.UnknownStepMessage(name));
        }

        var route = context.Route ?? throw new InvalidOperationException("Edge steps are only valid on routes.");
        var step = factory.Create(new EdgeStepBuildContext(route, state.Current.Edge, context.Services), transformValues);
        context.RequestTransforms.Add(new EdgeStepTransform(factory.Name, step, decisions));
        return true;
    }
}
