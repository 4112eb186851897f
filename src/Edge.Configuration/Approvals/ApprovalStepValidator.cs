using Edge.Configuration.Authorization;
using Edge.Configuration.Tenancy;

namespace Edge.Configuration.Approvals;

/// <summary>
/// Validates <c>{ "EdgeApproval": "payments" }</c>: the policy exists, and <c>EdgeTenant</c> and a real
/// <c>EdgeAuthenticate</c> come before it, because an approval is bound to the request's tenant and requester.
/// </summary>
internal sealed class ApprovalStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeApproval";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName);
        var policy = values[StepName];
        if (!context.Edge.Approvals.ContainsKey(policy))
        {
            context.AddError(StepName, $"approval policy '{policy}' is not defined in Edge:Approvals; defined: {DefinedNames.List(context.Edge.Approvals.Keys)}");
        }

        if (context.PrecedingSteps.Contains(StepName, StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "a route has at most one EdgeApproval step");
        }

        if (!context.PrecedingSteps.Contains(TenantStepValidator.StepName, StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "EdgeApproval needs an EdgeTenant step listed before it (an approval is bound to the tenant)");
        }

        AuthorizationStepRules.RequireAuthenticationBefore(context, StepName);
    }
}
