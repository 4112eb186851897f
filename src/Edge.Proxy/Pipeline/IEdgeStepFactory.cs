namespace Edge.Proxy.Pipeline;

/// <summary>
/// Creates one kind of edge step from a route transform entry (validated by the <see cref="IEdgeStepValidator"/> of the same name). The first key of the entry is <see cref="Name"/>;
/// its value and the other keys are the step's options.
/// </summary>
internal interface IEdgeStepFactory
{
    /// <summary>The transform key that selects this step, e.g. <c>EdgeTenant</c>.</summary>
    string Name { get; }

    /// <summary>Builds the runtime step. Only called for options that passed the step's <see cref="IEdgeStepValidator"/>.</summary>
    IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values);
}
