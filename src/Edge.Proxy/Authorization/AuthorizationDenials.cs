using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>The refusal shared by <c>EdgeRequire</c> and <c>EdgeRequireClaim</c> when no identity is present.</summary>
internal static class AuthorizationDenials
{
    public static EdgeStepResult Unauthenticated(EdgeStepContext context)
    {
        var challenge = (context.HttpContext.GetIdentity() as AuthenticationFeature)?.Challenge ?? "Bearer realm=\"edge\"";
        return EdgeStepResult.Deny(new EdgeDenial(StatusCodes.Status401Unauthorized, AuthenticationCodes.AuthenticationRequired, "Unauthorized", "Authentication is required.")
        {
            Headers = new Dictionary<string, string> { ["WWW-Authenticate"] = challenge },
        });
    }
}
