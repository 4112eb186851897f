using System.Collections.Frozen;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>
/// A claim predicate: with <c>In</c> the claim must carry one of the values; with <c>NotIn</c> none of its values may
/// be listed. Values compare case-insensitively so a deny list cannot be sidestepped by case.
/// </summary>
internal sealed class RequireClaimStep(string claim, bool allowed, string[] values) : IEdgeStep
{
    private readonly FrozenSet<string> _values = values.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    private readonly string _detail = $"The '{claim}' claim does not allow this route.";

    public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var user = context.HttpContext.GetIdentity()?.User;
        if (user is null)
        {
            return ValueTask.FromResult(AuthorizationDenials.Unauthenticated(context));
        }

        var present = false;
        var listed = false;
        foreach (var value in user.FindAll(claim))
        {
            present = true;
            listed |= _values.Contains(value.Value);
        }

        if (allowed && !listed)
        {
            return ValueTask.FromResult(Deny(present ? $"claim_denied:{claim}" : $"claim_missing:{claim}"));
        }

        if (!allowed && listed)
        {
            return ValueTask.FromResult(Deny($"claim_denied:{claim}"));
        }

        return ValueTask.FromResult(EdgeStepResult.Continue);
    }

    private EdgeStepResult Deny(string reason) =>
        EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.ClaimDenied, "Forbidden", _detail) { Reason = reason });
}
