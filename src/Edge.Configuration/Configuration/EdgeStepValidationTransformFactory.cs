using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Configuration;

/// <summary>
/// Tells YARP's route validation which transform entries are edge steps (the first key starts with <c>Edge</c>), so
/// they are not "unknown transforms". Nothing is checked here: the step name and its options are checked against the
/// candidate Edge section by <see cref="EdgeConfigValidator"/>. Building the steps is the edge's own transform factory.
/// </summary>
internal sealed class EdgeStepValidationTransformFactory : ITransformFactory
{
    public bool Validate(TransformRouteValidationContext context, IReadOnlyDictionary<string, string> transformValues)
    {
        if (!EdgeStepValidators.TryGetStepName(transformValues, out _))
        {
            return false;
        }

        // An unknown step name is reported by EdgeConfigValidator.ValidateSteps with the transform's own location;
        // reporting it here too gave the same error a second time, at the route.
        return true;
    }

    public bool Build(TransformBuilderContext context, IReadOnlyDictionary<string, string> transformValues) => false;
}
