using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Authorization;

/// <summary>
/// Establishes who is calling: validates the credential of the first listed policy whose credential is present,
/// sets the identity on the request state, binds it to the request's tenant, and keeps the credential from the backend
/// unless the route forwards it. Identity headers are written by <see cref="IdentityHeadersTransform"/> after every step.
/// </summary>
internal sealed class AuthenticateStep(
    string routeId,
    AuthenticateStepOptions options,
    (EdgeCredentialValidator Validator, byte[]? SigningKey)[] schemes,
    AuthenticationRuntime runtime) : IEdgeStep
{
    public const string AnonymousMethod = "anonymous";

    private readonly string _challenge = string.Join(", ", schemes.Select(s => s.Validator.Challenge));

    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var request = context.Request;
        var http = context.HttpContext;
        if (options.Anonymous)
        {
            request.AuthMethod = AnonymousMethod;
            StripCredentials(context, schemes);
            return EdgeStepResult.Continue;
        }

        var chosen = Array.FindIndex(schemes, s => s.Validator.HasCredential(http.Request));
        if (chosen < 0)
        {
            Fail(context, AuthenticationCodes.AuthenticationRequired, principal: null, schemes[0].Validator.PolicyName);
            return Deny(StatusCodes.Status401Unauthorized, AuthenticationCodes.AuthenticationRequired, AuthenticationCodes.AuthenticationRequired, "Authentication is required.", _challenge);
        }

        var (validator, signingKey) = schemes[chosen];
        var result = await validator.AuthenticateAsync(http.Request, context.RequestAborted);
        if (!result.Succeeded)
        {
            // The audit record shows which kind of credential was refused; the principal stays unset (unverified).
            request.AuthMethod = validator.Method;
            Fail(context, result.FailureReason, result.ClaimedPrincipal, validator.PolicyName);
            return Deny(result.FailureStatus, result.FailureCode, result.FailureReason, result.FailureDetail ?? "Authentication failed.", result.Challenge);
        }

        var identity = result.Identity;
        request.Items[EdgeIdentityItems.IdentityKey] = identity;
        request.Items[EdgeIdentityItems.ChallengeKey] = validator.Challenge;
        request.User = identity.User;
        request.Principal = identity.Principal;
        request.AuthMethod = identity.Method;
        request.Roles = identity.Roles;
        http.User = identity.User;
        if (signingKey is not null)
        {
            request.Items[EdgeIdentityItems.SigningKey] = signingKey;
        }

        if (TenantBinding.Check(request) is { } mismatch)
        {
            return EdgeStepResult.Deny(mismatch);
        }

        StripCredentials(context, schemes);
        return EdgeStepResult.Continue;
    }

    private void StripCredentials(EdgeStepContext context, (EdgeCredentialValidator Validator, byte[]? SigningKey)[] all)
    {
        if (options.ForwardAuthorization)
        {
            return;
        }

        RequestTransform.RemoveHeader(context.Transform, "Authorization");
        foreach (var (validator, _) in all)
        {
            RequestTransform.RemoveHeader(context.Transform, validator.CredentialHeader);
        }
    }

    private void Fail(EdgeStepContext context, string reason, string? principal, string policy)
    {
        runtime.Metrics.Failure(routeId, policy, reason);
        if (reason != AuthenticationCodes.AuthenticationRequired)
        {
            // Only presented-and-refused credentials feed the brute-force signal; a caller without one guessed nothing.
            runtime.Failures.RecordFailure(context.HttpContext.Connection.RemoteIpAddress?.ToString(), principal);
        }
    }

    private static EdgeStepResult Deny(int status, string code, string reason, string detail, string challenge)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["WWW-Authenticate"] = challenge };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            headers["Retry-After"] = "5";
        }

        var title = status == StatusCodes.Status503ServiceUnavailable ? "Authentication unavailable" : "Unauthorized";
        return EdgeStepResult.Deny(new EdgeDenial(status, code, title, detail) { Reason = reason, Headers = headers });
    }
}
