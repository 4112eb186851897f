namespace Edge.Configuration;

/// <summary>
/// Validates one kind of edge step's options against the candidate config. Registered by the capability that owns
/// the step, keyed by <see cref="Name"/>; the edge builds the runtime step from options that passed.
/// </summary>
public interface IEdgeStepValidator
{
    /// <summary>The transform key that selects this step, e.g. <c>EdgeTenant</c>.</summary>
    string Name { get; }

    /// <summary>Checks the options against the candidate config; adds precise errors, never throws for bad input.</summary>
    void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values);
}
