
namespace Edge.Configuration.Authorization;

/// <summary>Validates <c>EdgeRequire</c> step options: <c>{ "EdgeRequire": "orders.read,orders.write", "Mode": "All" }</c>.</summary>
internal sealed class RequireStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeRequire";

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName, "Mode");
        AuthorizationStepRules.RequireAuthenticationBefore(context, StepName);
        if (!TryParse(values, out var permissions, out _, out var field, out var error))
        {
            context.AddError(field, error);
            return;
        }

        var grantsAll = context.Edge.Roles.Values.Any(p => p.Contains(EdgePermissionResolver.AllPermissions, StringComparer.Ordinal));
        foreach (var permission in permissions.Where(p => !context.Edge.Roles.Values.Any(r => r.Contains(p, StringComparer.Ordinal))))
        {
            context.AddWarning(StepName, $"no role in Edge:Roles grants '{permission}'{(grantsAll ? " (only roles with '*')" : "")}");
        }
    }

    internal static bool TryParse(IReadOnlyDictionary<string, string> values, out string[] permissions, out RequireMode mode, out string field, out string error)
    {
        field = StepName;
        error = "";
        mode = RequireMode.Any;
        permissions = AuthorizationStepRules.SplitList(values[StepName]);
        if (permissions.Length == 0)
        {
            error = "list at least one permission (comma-separated)";
            return false;
        }

        if (permissions.FirstOrDefault(p => p == EdgePermissionResolver.AllPermissions || !CredentialText.IsValidPermission(p)) is { } bad)
        {
            error = $"'{bad}' is not a permission (1-{CredentialText.MaxRoleLength} characters from [A-Za-z0-9._:-])";
            return false;
        }

        if (values.TryGetValue("Mode", out var modeText) && !EnumName.TryParse(modeText, out mode))
        {
            field = "Mode";
            error = $"'{modeText}' is not Any or All";
            return false;
        }

        return true;
    }
}
