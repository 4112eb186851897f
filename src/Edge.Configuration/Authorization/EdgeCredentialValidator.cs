using Edge.Configuration;

namespace Edge.Configuration.Authorization;

/// <summary>
/// Validates the credential of a request against one <c>Edge:Authentication</c> entry. The edge's
/// <c>EdgeAuthenticate</c> step uses it, and any other ASP.NET Core host (the audit writer) can reuse it with the same
/// proxy.json entries:
/// <code>
/// var validator = EdgeCredentialValidator.Create("corp-jwt", edge.Authentication["corp-jwt"], edge.Roles);
/// var result = await validator.AuthenticateAsync(httpContext.Request, httpContext.RequestAborted);
/// if (!result.Succeeded) { /* 401 with result.Challenge, or result.FailureStatus */ }
/// else if (result.Identity.Permissions.Has("audit.read")) { /* result.Identity.Tenant, .Principal, .Roles */ }
/// </code>
/// Instances are thread-safe and meant to be kept (JWKS keys are cached per key source).
/// </summary>
public sealed class EdgeCredentialValidator
{
    private readonly ICredentialScheme _scheme;

    private EdgeCredentialValidator(string policyName, AuthenticationPolicyOptions policy, ICredentialScheme scheme)
    {
        PolicyName = policyName;
        Policy = policy;
        _scheme = scheme;
    }

    public string PolicyName { get; }

    public AuthenticationPolicyOptions Policy { get; }

    /// <summary><c>jwt</c> or <c>api-key</c>.</summary>
    public string Method => _scheme.Method;

    /// <summary>The request header carrying the credential (<c>Authorization</c>, or the API key header).</summary>
    public string CredentialHeader => _scheme.CredentialHeader;

    /// <summary>The <c>WWW-Authenticate</c> value for a request without a credential.</summary>
    public string Challenge => _scheme.Challenge;

    /// <summary>Checks the entry (and that its secrets resolve); an empty list means <see cref="Create"/> will succeed.</summary>
    public static IReadOnlyList<ConfigError> Validate(string policyName, AuthenticationPolicyOptions policy)
    {
        var errors = new ConfigErrorList();
        AuthenticationPolicyRules.Validate(policyName, policy, errors);
        return errors.Errors.ToList();
    }

    /// <summary>Creates a validator; throws <see cref="InvalidOperationException"/> naming every problem of an invalid entry.</summary>
    public static EdgeCredentialValidator Create(string policyName, AuthenticationPolicyOptions policy, IReadOnlyDictionary<string, IReadOnlyList<string>> roles) =>
        Create(policyName, policy, new EdgePermissionResolver(roles), SigningKeyCache.Shared);

    public static EdgeCredentialValidator Create(string policyName, AuthenticationPolicyOptions policy, EdgePermissionResolver permissions, SigningKeyCache keys) =>
        Create(policyName, policy, permissions, keys, TimeProvider.System);

    /// <param name="time">The clock a cached token's <c>exp</c>/<c>nbf</c> is checked against on every hit.</param>
    public static EdgeCredentialValidator Create(string policyName, AuthenticationPolicyOptions policy, EdgePermissionResolver permissions, SigningKeyCache keys, TimeProvider time)
    {
        var errors = Validate(policyName, policy);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("invalid authentication policy: " + string.Join("; ", errors));
        }

        ICredentialScheme scheme = AuthenticationPolicyRules.IsJwt(policy)
            ? new JwtCredentialScheme(policyName, policy, permissions, keys, time)
            : new ApiKeyCredentialScheme(policyName, policy, permissions);
        return new EdgeCredentialValidator(policyName, policy, scheme);
    }

    /// <summary>True when the request carries this policy's kind of credential (a bearer token, or the key header).</summary>
    public bool HasCredential(HttpRequest request) => _scheme.HasCredential(request);

    /// <summary>Validates the credential. Never throws for bad input: every problem is a failed result with a stable code.</summary>
    public ValueTask<EdgeAuthenticationResult> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _scheme.AuthenticateAsync(request, cancellationToken);
    }
}
