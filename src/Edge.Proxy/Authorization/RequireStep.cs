using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Lets the request through when the caller's roles grant the listed permissions (any of them, or all). A refusal
/// names the missing permission, never the caller's roles.
/// </summary>
internal sealed class RequireStep(string[] permissions, RequireMode mode) : IEdgeStep
{
    private readonly string _anyDetail = permissions.Length == 1
        ? $"This route requires the permission '{permissions[0]}'."
        : $"This route requires one of the permissions {string.Join(", ", permissions.Select(p => $"'{p}'"))}.";

    private readonly string _anyReason = AuthenticationCodes.PermissionDenied + ":" + string.Join('|', permissions);

    public ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var identity = context.HttpContext.GetIdentity()?.Identity;
        if (identity is null)
        {
            return ValueTask.FromResult(AuthorizationDenials.Unauthenticated(context));
        }

        var granted = identity.Permissions;
        if (mode == RequireMode.Any)
        {
            foreach (var permission in permissions)
            {
                if (granted.Has(permission))
                {
                    return ValueTask.FromResult(EdgeStepResult.Continue);
                }
            }

            return ValueTask.FromResult(Deny(_anyDetail, _anyReason));
        }

        foreach (var permission in permissions)
        {
            if (!granted.Has(permission))
            {
                return ValueTask.FromResult(Deny($"This route requires the permission '{permission}'.", AuthenticationCodes.PermissionDenied + ":" + permission));
            }
        }

        return ValueTask.FromResult(EdgeStepResult.Continue);
    }

    private static EdgeStepResult Deny(string detail, string reason) =>
        EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status403Forbidden, AuthenticationCodes.PermissionDenied, "Forbidden", detail) { Reason = reason });
}
