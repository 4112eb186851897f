using System.Collections.Concurrent;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Bridges route transform entries whose first key starts with <c>Edge</c> to the registered step factories.
/// Validation (YARP's, and against the candidate Edge section) is the configuration library's, before a config is
/// accepted; this factory only builds.
/// </summary>
internal sealed class EdgeStepTransformFactory(
    EdgeStepRegistry registry,
    EdgeConfigState state,
    EdgeDecisions decisions,
    IEdgeThreatGate threat,
    TimeProvider time,
    ILogger<EdgeStepTransform> logger,
    ILogger<EdgeBodyBufferingTransform> bodyLogger,
    ILogger<EdgeDestinationPinTransform> pinLogger) : ITransformFactory
{
    // Per step name, kept across reloads: a broken step logs once a minute whatever route it runs on, and a reload does
    // not start its lines again.
    private readonly ConcurrentDictionary<string, LogWindow> _failedLogs = new(StringComparer.Ordinal);

    /// <summary>YARP's route validation of edge steps is the configuration library's (<c>EdgeStepValidationTransformFactory</c>).</summary>
    public bool Validate(TransformRouteValidationContext context, IReadOnlyDictionary<string, string> transformValues) => false;

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
        var edge = state.Current.Edge;
        var step = factory.Create(new EdgeStepBuildContext(route, edge, context.Services), transformValues);

        // Once per route, before its first step: its steps and its destinations come from the same revision.
        if (!context.RequestTransforms.Any(t => t is EdgeDestinationPinTransform)
            && EdgeDestinationPinTransform.AddressesOf(context.Cluster) is { } addresses)
        {
            context.RequestTransforms.Add(new EdgeDestinationPinTransform(route.RouteId, addresses, pinLogger));
        }

        // The body is read just before the first step that needs it, so the steps before it decide on the headers alone.
        if (EdgeBodyBufferingTransform.RequirementOf(transformValues, registry, edge) is { } requirement
            && EdgeBodyBufferingTransform.PlanFor(route, registry, edge) is { } plan)
        {
            // What the step can refuse on the headers alone is refused before the body is read.
            if (step is IEdgeHeaderCheck check)
            {
                context.RequestTransforms.Add(new EdgeHeaderCheckTransform(factory.Name, check, decisions));
            }

            context.RequestTransforms.Add(new EdgeBodyBufferingTransform(plan, requirement.OnlyForm, decisions, bodyLogger));
        }

        var failedLog = _failedLogs.GetOrAdd(factory.Name, static _ => new LogWindow(TimeSpan.FromMinutes(1)));
        context.RequestTransforms.Add(new EdgeStepTransform(factory.Name, step, decisions, threat, failedLog, time, logger));
        return true;
    }
}
