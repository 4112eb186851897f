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

        // The token is used up when this step passes: a later step's refusal (a rate limit) wasted it, and the audit said
        // "consumed" for a request that was never forwarded.
        var transforms = context.Route.Transforms!;
        for (var i = context.TransformIndex + 1; i < transforms.Count; i++)
        {
            if (EdgeStepValidators.TryGetStepName(transforms[i], out var later) && !string.Equals(later, StepName, StringComparison.OrdinalIgnoreCase))
            {
                context.AddError(StepName, $"EdgeApproval must be the route's last step ({later} follows it): the approval token is used up when EdgeApproval passes, so a refusal by {later} would waste it while the audit records it as consumed");
                break;
            }
        }
    }
}
