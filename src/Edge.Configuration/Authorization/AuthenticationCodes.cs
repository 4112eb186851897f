namespace Edge.Configuration.Authorization;

/// <summary>The stable problem codes of authentication and authorization denials.</summary>
public static class AuthenticationCodes
{
    /// <summary>401: no credential was presented.</summary>
    public const string AuthenticationRequired = "authentication_required";

    /// <summary>401: the token is malformed, too long, badly signed, uses a refused algorithm or an unknown key.</summary>
    public const string TokenInvalid = "token_invalid";

    /// <summary>401: <c>exp</c> is past (beyond the clock skew).</summary>
    public const string TokenExpired = "token_expired";

    /// <summary>401: <c>nbf</c> is in the future (beyond the clock skew).</summary>
    public const string TokenNotYetValid = "token_not_yet_valid";

    /// <summary>401: <c>iss</c> is not the configured issuer.</summary>
    public const string TokenIssuerInvalid = "token_issuer_invalid";

    /// <summary>401: <c>aud</c> does not contain the configured audience.</summary>
    public const string TokenAudienceInvalid = "token_audience_invalid";

    /// <summary>401: the API key is unknown or malformed.</summary>
    public const string ApiKeyInvalid = "api_key_invalid";

    /// <summary>503: the signing keys (JWKS, OIDC discovery) cannot be fetched and none are cached.</summary>
    public const string AuthenticationUnavailable = "authentication_unavailable";

    /// <summary>403: the credential's tenant differs from the tenant the request names.</summary>
    public const string TenantMismatch = "tenant_mismatch";

    /// <summary>403: the caller's roles do not grant a required permission.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>403: a claim predicate (<c>EdgeRequireClaim</c>) failed.</summary>
    public const string ClaimDenied = "claim_denied";
}
