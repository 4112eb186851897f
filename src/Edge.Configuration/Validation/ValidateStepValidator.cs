namespace Edge.Configuration.Validation;

/// <summary>Validates <c>EdgeValidate</c> step options: <c>{ "EdgeValidate": "orders-create" }</c> names an entry of <c>Edge:Validation</c>.</summary>
internal sealed class ValidateStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeValidate";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName);
        var policy = values[StepName];
        if (!context.Edge.Validation.ContainsKey(policy))
        {
            context.AddError(StepName, $"validation policy '{policy}' is not defined in Edge:Validation; defined: {DefinedNames.List(context.Edge.Validation.Keys)}");
        }

        if (context.PrecedingSteps.Contains(StepName, StringComparer.OrdinalIgnoreCase))
        {
            // One body cap and one schema per route: a second policy would make the cap and the answer order-dependent.
            context.AddError(StepName, "a route runs one validation policy; EdgeValidate is listed twice");
        }
    }
}
