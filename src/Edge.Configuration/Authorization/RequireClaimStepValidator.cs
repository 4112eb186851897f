
namespace Edge.Configuration.Authorization;

/// <summary>Validates <c>EdgeRequireClaim</c> step options: <c>{ "EdgeRequireClaim": "maturity", "NotIn": "STUDENT" }</c>.</summary>
internal sealed class RequireClaimStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeRequireClaim";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName, "In", "NotIn");
        AuthorizationStepRules.RequireAuthenticationBefore(context, StepName);
        if (!TryParse(values, out _, out _, out _, out var field, out var error))
        {
            context.AddError(field, error);
        }
    }

    /// <param name="allowed">True for <c>In</c> (the claim must have one of the values), false for <c>NotIn</c>.</param>
    internal static bool TryParse(IReadOnlyDictionary<string, string> values, out string claim, out bool allowed, out string[] list, out string field, out string error)
    {
        claim = values[StepName].Trim();
        field = StepName;
        error = "";
        allowed = false;
        list = [];
        if (claim.Length == 0)
        {
            error = "name the claim to check";
            return false;
        }

        var hasIn = values.TryGetValue("In", out var inText);
        var hasNotIn = values.TryGetValue("NotIn", out var notInText);
        if (hasIn == hasNotIn)
        {
            field = "In";
            error = "set exactly one of In or NotIn (comma-separated values)";
            return false;
        }

        allowed = hasIn;
        list = AuthorizationStepRules.SplitList(hasIn ? inText! : notInText!);
        if (list.Length == 0)
        {
            field = hasIn ? "In" : "NotIn";
            error = "list at least one value";
            return false;
        }

        return true;
    }
}
