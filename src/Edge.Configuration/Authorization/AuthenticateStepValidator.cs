
namespace Edge.Configuration.Authorization;

/// <summary>Validates <c>EdgeAuthenticate</c> step options.</summary>
internal sealed class AuthenticateStepValidator : IEdgeStepValidator
{
    public const string StepName = "EdgeAuthenticate";
    public const string AnonymousPolicy = AuthorizationSections.AnonymousPolicy;

    private static readonly string[] KnownKeys = ["ForwardAuthorization", "SignIdentity"];

    public string Name => StepName;

    public void Validate(EdgeStepValidationContext context, IReadOnlyDictionary<string, string> values)
    {
        context.RejectUnknownKeys(values, StepName, KnownKeys);
        if (context.PrecedingSteps.Contains(StepName, StringComparer.OrdinalIgnoreCase))
        {
            context.AddError(StepName, "a route has at most one EdgeAuthenticate step; list several policies comma-separated instead");
        }

        if (!TryParse(values, out var options, out var field, out var error))
        {
            context.AddError(field, error);
            return;
        }

        foreach (var name in options.Policies)
        {
            if (!context.Edge.Authentication.TryGetValue(name, out var policy))
            {
                context.AddError(StepName, $"authentication policy '{name}' is not defined in Edge:Authentication; defined: {DefinedNames.List(context.Edge.Authentication.Keys)} (or use '{AnonymousPolicy}')");
            }
            else if (options.SignIdentity == true && policy.IdentitySigningKey is null)
            {
                context.AddError("SignIdentity", $"policy '{name}' has no IdentitySigningKey to sign with");
            }
        }

        if (AuthenticationPolicyRules.FindShadowed(options.Policies, context.Edge.Authentication) is { } shadowed)
        {
            context.AddError(StepName, $"policies '{shadowed.First}' and '{shadowed.Shadowed}' both read the {shadowed.Header} header: the first listed policy " +
                $"whose credential is present validates, so '{shadowed.Shadowed}' would never be tried; use one policy per credential header on a route");
        }

        if (options.Anonymous && options.SignIdentity == true)
        {
            context.AddError("SignIdentity", "an anonymous caller has no identity to sign");
        }
    }

    internal static bool TryParse(IReadOnlyDictionary<string, string> values, out AuthenticateStepOptions options, out string field, out string error)
    {
        options = new AuthenticateStepOptions();
        field = StepName;
        error = "";
        var policies = values[StepName].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (policies.Length == 0)
        {
            error = $"name an Edge:Authentication policy, several comma-separated, or '{AnonymousPolicy}'";
            return false;
        }

        if (policies.Distinct(StringComparer.Ordinal).Count() != policies.Length)
        {
            error = "a policy is listed twice";
            return false;
        }

        var anonymous = policies.Contains(AnonymousPolicy, StringComparer.OrdinalIgnoreCase);
        if (anonymous && policies.Length > 1)
        {
            error = $"'{AnonymousPolicy}' cannot be combined with other policies";
            return false;
        }

        var forward = false;
        if (values.TryGetValue("ForwardAuthorization", out var forwardText) && !bool.TryParse(forwardText, out forward))
        {
            field = "ForwardAuthorization";
            error = $"'{forwardText}' is not true or false";
            return false;
        }

        bool? sign = null;
        if (values.TryGetValue("SignIdentity", out var signText))
        {
            if (!bool.TryParse(signText, out var parsed))
            {
                field = "SignIdentity";
                error = $"'{signText}' is not true or false";
                return false;
            }

            sign = parsed;
        }

        options = new AuthenticateStepOptions
        {
            Policies = anonymous ? [] : policies,
            Anonymous = anonymous,
            ForwardAuthorization = forward,
            SignIdentity = sign,
        };
        return true;
    }
}
