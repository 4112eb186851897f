
namespace Edge.Configuration.Authorization;

/// <summary>Checks shared by <c>EdgeRequire</c> and <c>EdgeRequireClaim</c>.</summary>
internal static class AuthorizationStepRules
{
    /// <summary>Both steps need an identity: an <c>EdgeAuthenticate</c> step with a real policy listed before them.</summary>
    public static void RequireAuthenticationBefore(EdgeStepValidationContext context, string stepName)
    {
        var transforms = context.Route.Transforms ?? [];
        for (var i = 0; i < context.TransformIndex && i < transforms.Count; i++)
        {
            if (transforms[i].TryGetValue(AuthenticateStepValidator.StepName, out var policies))
            {
                if (string.Equals(policies.Trim(), AuthenticateStepValidator.AnonymousPolicy, StringComparison.OrdinalIgnoreCase))
                {
                    context.AddError(stepName, $"{stepName} after 'EdgeAuthenticate: {AuthenticateStepValidator.AnonymousPolicy}' can never pass");
                }

                return;
            }
        }

        context.AddError(stepName, $"{stepName} needs an EdgeAuthenticate step listed before it");
    }

    public static string[] SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
