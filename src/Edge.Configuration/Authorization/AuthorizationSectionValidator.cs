using Edge.Configuration;

namespace Edge.Configuration.Authorization;

/// <summary>Validates <c>Edge:Authentication</c> entries and the <c>Edge:Roles</c> map of a candidate config.</summary>
internal sealed class AuthorizationSectionValidator(EdgeHostOptions host) : IEdgeSectionValidator
{
    public void Validate(EdgeSection edge, ConfigErrorList errors)
    {
        foreach (var (name, policy) in edge.Authentication)
        {
            AuthenticationPolicyRules.Validate(name, policy, errors, host.IdentityHeaderPrefix);
            foreach (var key in policy.Keys)
            {
                foreach (var role in key.Roles.Where(r => !edge.Roles.ContainsKey(r)))
                {
                    errors.AddWarning($"Edge:Authentication:{name}:Keys", $"role '{role}' of principal '{key.Principal}' is not defined in Edge:Roles and grants nothing");
                }
            }
        }

        foreach (var (role, permissions) in edge.Roles)
        {
            var at = $"Edge:Roles:{role}";
            if (!CredentialText.IsValidRole(role))
            {
                errors.Add(at, $"'{role}' is not a role name (1-{CredentialText.MaxRoleLength} characters from [A-Za-z0-9._:-])");
            }

            foreach (var permission in permissions)
            {
                if (!CredentialText.IsValidPermission(permission))
                {
                    errors.Add(at, $"'{permission}' is not a permission ('*', or 1-{CredentialText.MaxRoleLength} characters from [A-Za-z0-9._:-])");
                }
            }
        }
    }
}
