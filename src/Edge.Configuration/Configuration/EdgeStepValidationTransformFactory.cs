using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Configuration;

/// <summary>
/// Tells YARP's route validation which transform entries are edge steps (the first key starts with <c>Edge</c>), so
/// they are not "unknown transforms". Only the step name is checked here: the options are checked against the
/// candidate Edge section by <see cref="EdgeConfigValidator"/>. Building the steps is the edge's own transform factory.
/// </summary>
internal sealed class EdgeStepValidationTransformFactory(EdgeStepValidators validators) : ITransformFactory
{
    public bool Validate(TransformRouteValidationContext context, IReadOnlyDictionary<string, string> transformValues)
    {
        if (!EdgeStepValidators.TryGetStepName(transformValues, out var name))
        {
            return false;
        }

        if (!validators.TryGet(name, out _))
        {
            context.Errors.Add(new ArgumentException(validators.UnknownStepMessage(name)));
        }

        return true;
    }

    public bool Build(TransformBuilderContext context, IReadOnlyDictionary<string, string> transformValues) => false;
}
