namespace Edge.Proxy.Pipeline;

/// <summary>
/// A refused sign-in as the edge answers it: <c>EdgeAuthenticate</c> on a route and the approvals API's own sign-in
/// answer the same problem, challenge and (when the credential could not be checked) <c>Retry-After</c>.
/// </summary>
internal static class AuthenticationRefusal
{
    public static EdgeDenial Create(int status, string code, string reason, string detail, string challenge)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["WWW-Authenticate"] = challenge };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            headers["Retry-After"] = "5";
        }

        var title = status == StatusCodes.Status503ServiceUnavailable ? "Authentication unavailable" : "Unauthorized";
        return new EdgeDenial(status, code, title, detail) { Reason = reason, Headers = headers };
    }
}
