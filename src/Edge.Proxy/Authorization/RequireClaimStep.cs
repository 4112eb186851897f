using System.Collections.Frozen;
using System.Security.Claims;
using Edge.Proxy.Pipeline;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Edge.Proxy.Authorization;

/// <summary>
/// A claim predicate: with <c>In</c> the claim must carry one of the values; with <c>NotIn</c> none of its values may
/// be listed. Values compare case-insensitively so a deny list cannot be sidestepped by case. A <c>scope</c> or
/// <c>scp</c> claim is a space-separated list (RFC 8693 §4.2, RFC 9068 §2.2.3), so each of its scopes is a value.
/// </summary>
internal sealed class RequireClaimStep(string claim, bool allowed, string[] values) : IEdgeStep
{
    private readonly FrozenSet<string> _values = values.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    private readonly bool _spaceSeparated = claim is "scope" or "scp";
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
            // An object or a nested array arrives as one claim holding JSON text, which no listed value equals: a deny
            // list cannot tell what it holds, so it refuses it rather than let it pass.
            listed |= (!allowed && IsStructured(value))
                || (_spaceSeparated ? AnyListed(value.Value) : _values.Contains(value.Value));
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

    private static bool IsStructured(Claim value) =>
        value.ValueType is JsonClaimValueTypes.Json or JsonClaimValueTypes.JsonArray;

    private bool AnyListed(string scopes)
    {
        var lookup = _values.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var range in scopes.AsSpan().Split(' '))
        {
            if (lookup.Contains(scopes.AsSpan()[range]))
            {
                return true;
            }
        }

        return false;
    }

    private EdgeStepResult Deny(string reason) =>
        EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.ClaimDenied, "Forbidden", _detail) { Reason = reason });
}
