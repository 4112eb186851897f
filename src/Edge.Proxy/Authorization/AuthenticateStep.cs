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
    string[] credentialHeaders,
    AuthenticationRuntime runtime) : IEdgeStep
{
    public const string AnonymousMethod = "anonymous";

    private readonly string _challenge = string.Join(", ", schemes.Select(s => s.Validator.Challenge));

    public async ValueTask<EdgeStepResult> InvokeAsync(EdgeStepContext context)
    {
        var http = context.HttpContext;

        // Buffered only when form-encoded (AuthenticateStepFactory's body requirement), and not read when an anonymous
        // route forwards every credential.
        if (http.Features.Get<EdgeBodyFeature>() is { } body && !(options.Anonymous && options.ForwardAuthorization)
            && FormCredentials.Carries(http.Request.ContentType, body))
        {
            runtime.Metrics.Failure(routeId, schemes.Length > 0 ? schemes[0].Validator.PolicyName : AuthenticateStepValidator.AnonymousPolicy, FormCredentials.Code);
            return EdgeStepResult.Deny(FormCredentials.Denial);
        }

        if (options.Anonymous)
        {
            http.Features.Set<IEdgeIdentityFeature>(new AuthenticationFeature(AnonymousMethod, identity: null));
            if (!options.ForwardAuthorization)
            {
                StripCredentials(context, validated: null);
            }

            return EdgeStepResult.Continue;
        }

        var chosen = FirstWithCredential(http.Request);
        if (chosen < 0)
        {
            runtime.Metrics.Failure(routeId, schemes[0].Validator.PolicyName, AuthenticationCodes.AuthenticationRequired);
            return Deny(StatusCodes.Status401Unauthorized, AuthenticationCodes.AuthenticationRequired, AuthenticationCodes.AuthenticationRequired, "Authentication is required.", _challenge);
        }

        var (validator, signingKey) = schemes[chosen];
        var result = await validator.AuthenticateAsync(http.Request, context.RequestAborted);
        if (!result.Succeeded)
        {
            // The audit record shows which kind of credential was refused; the principal stays unset (unverified).
            http.Features.Set<IEdgeIdentityFeature>(new AuthenticationFeature(validator.Method, identity: null));
            // Ban rules count this denial (AuthenticationFailed) where every denial is recorded, by the resolved client.
            runtime.Metrics.Failure(routeId, validator.PolicyName, result.FailureReason);
            return Deny(result.FailureStatus, result.FailureCode, result.FailureReason, result.FailureDetail ?? "Authentication failed.", result.Challenge);
        }

        var identity = result.Identity;
        http.Features.Set<IEdgeIdentityFeature>(new AuthenticationFeature(identity.Method, identity, validator.Challenge, signingKey));
        http.User = identity.User;
        if (TenantBinding.Check(http) is { } mismatch)
        {
            return EdgeStepResult.Deny(mismatch);
        }

        StripCredentials(context, validator);
        return EdgeStepResult.Continue;
    }

    // A loop, not Array.FindIndex with a lambda: the lambda would capture the request (a closure per request).
    private int FirstWithCredential(HttpRequest request)
    {
        for (var i = 0; i < schemes.Length; i++)
        {
            if (schemes[i].Validator.HasCredential(request))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Removes the credentials from the forwarded request, a query <c>access_token</c> included; with
    /// <c>ForwardAuthorization</c>, all but the one that was validated. Another listed policy's header (a bearer token sent next to the API key that authenticated) was never
    /// checked, and a backend reading it would take it for a credential the edge had vouched for. So is the header of a
    /// configured API key policy the route does not list (or any, on an anonymous route).
    /// </summary>
    private void StripCredentials(EdgeStepContext context, EdgeCredentialValidator? validated)
    {
        var keep = options.ForwardAuthorization ? validated?.CredentialHeader : null;
        foreach (var header in credentialHeaders)
        {
            if (!string.Equals(header, keep, StringComparison.OrdinalIgnoreCase))
            {
                RequestTransform.RemoveHeader(context.Transform, header);
            }
        }

        // X_Api_Key is X-Api-Key to a backend that maps names to CGI variables (PHP, WSGI, Rack), and the edge read only
        // the dashed one: an underscore spelling of any credential header is never forwarded, the kept one's included.
        if (context.HttpContext.GetEdgeRequest() is { HasUnderscoreHeaderName: true })
        {
            RemoveUnderscoreAliases(context);
        }

        // Credentials are read from headers only: a query token was never checked, whichever policy validated.
        QueryCredentials.Remove(context.Transform);
    }

    private void RemoveUnderscoreAliases(EdgeStepContext context)
    {
        foreach (var alias in HeaderName.UnderscoreAliases(context.HttpContext.Request.Headers, credentialHeaders) ?? [])
        {
            RequestTransform.RemoveHeader(context.Transform, alias);
        }
    }

    private static EdgeStepResult Deny(int status, string code, string reason, string detail, string challenge) =>
        EdgeStepResult.Deny(AuthenticationRefusal.Create(status, code, reason, detail, challenge));
}
