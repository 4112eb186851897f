using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Authorization;

/// <summary>
/// A bearer token in a form-encoded body (<c>access_token</c>, RFC 6750 section 2.2). The edge reads credentials from
/// headers only, so such a token was never checked, and a backend that accepts body tokens (Doorkeeper, several PHP
/// OAuth servers) would take it for the caller the edge vouched for. Unlike the query's (<see cref="QueryCredentials"/>)
/// it cannot be removed without rewriting the body the other steps read and a signature may cover, so the request is
/// refused with 400 <c>credential_in_body</c>: the client sends the token in <c>Authorization</c> instead.
/// </summary>
internal static class FormCredentials
{
    public const string Code = "credential_in_body";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, Code, "Credential in body",
        "The form body carries an access_token; the edge accepts credentials only in headers. Send it as 'Authorization: Bearer'.");

    /// <summary>True when a form body, decoded as a backend may decode it, has an <c>access_token</c> field (any spelling a backend parser reads as it: <see cref="QueryCredentials.Carries"/>).</summary>
    public static bool Carries(string? contentType, EdgeBodyFeature body)
    {
        if (!FormBody.IsForm(contentType) || body.Body.IsEmpty)
        {
            return false;
        }

        var (bytes, declared) = body.Form(contentType);
        return QueryCredentials.Carries(bytes) || QueryCredentials.Carries(declared);
    }
}
