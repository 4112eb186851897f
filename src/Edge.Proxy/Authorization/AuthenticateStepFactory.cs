using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>Builds <c>EdgeAuthenticate</c> steps from options that <see cref="AuthenticateStepValidator"/> accepted.</summary>
internal sealed class AuthenticateStepFactory : IEdgeStepFactory, IEdgeBodyRequirement
{
    public const string StepName = AuthenticateStepValidator.StepName;

    public string Name => StepName;

    /// <summary>
    /// A form-encoded body is read for an <c>access_token</c> (<see cref="FormCredentials"/>), under the route's body cap;
    /// other bodies stream to the backend unread. An anonymous route that forwards every credential reads none.
    /// </summary>
    public EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge) =>
        AuthenticateStepValidator.TryParse(values, out var options, out _, out _) && !(options.Anonymous && options.ForwardAuthorization)
            ? EdgeBodyRequirement.FormOnly
            : null;

    public IEdgeStep Create(EdgeStepBuildContext context, IReadOnlyDictionary<string, string> values)
    {
        if (!AuthenticateStepValidator.TryParse(values, out var options, out _, out var error))
        {
            throw new InvalidOperationException(error);
        }

        var runtime = context.Services.GetRequiredService<AuthenticationRuntime>();
        var time = context.Services.GetRequiredService<TimeProvider>();
        var permissions = new EdgePermissionResolver(context.Edge.Roles);
        var validators = options.Policies
            .Select(name => EdgeCredentialValidator.Create(name, context.Edge.Authentication[name], permissions, runtime.Keys, time))
            .ToArray();
        var sign = !options.Anonymous && (options.SignIdentity ?? validators.All(v => v.Policy.IdentitySigningKey is not null));
        var schemes = validators
            .Select(v => (v, sign ? IdentitySignature.ResolveKey(v.Policy.IdentitySigningKey!) : null))
            .ToArray();

        // Every configured API key policy's header is a credential, not only the listed ones': a JWT-only or anonymous
        // route validates none of them, and a backend that also accepts keys would take one for a caller the edge checked.
        var keyHeaders = context.Edge.Authentication.Values.Where(AuthenticationPolicyRules.IsApiKey).Select(p => p.Header);
        string[] credentialHeaders = [.. keyHeaders.Prepend("Authorization").Distinct(StringComparer.OrdinalIgnoreCase)];

        return new AuthenticateStep(context.Route.RouteId, options, schemes, credentialHeaders, runtime);
    }
}
