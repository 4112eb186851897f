namespace Edge.Proxy.Pipeline;

/// <summary>
/// Creates one kind of edge step from a route transform entry. The first key of the entry is <see cref="Name"/>;
/// its value and the other keys are the step's options.
/// </summary>
internal interface IEdgeStepFactory
{
    /// <summary>The transform key that selects this step, e.g. <c>EdgeTenant</c>.</summary>
    string Name { get; }

    /// <summary>Checks the options against the candidate config; adds precise errors, never throws for bad input.</summary>
    void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values);

    /// <summary>Builds the runtime step. Only called for options that passed <see cref="Validate"/>.</summary>
    IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values);
}
