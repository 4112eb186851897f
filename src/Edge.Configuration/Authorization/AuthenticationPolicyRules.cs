using System.Text;
using Edge.Configuration;
using Edge.Configuration.Tenancy;

namespace Edge.Configuration.Authorization;

/// <summary>The validation rules of one <c>Edge:Authentication</c> entry, shared by the edge and other hosts.</summary>
internal static class AuthenticationPolicyRules
{
    public const string JwtType = "Jwt";
    public const string ApiKeyType = "ApiKey";
    public const int MinimumSecretBytes = 32;

    private static readonly string[] SymmetricAlgorithms = ["HS256", "HS384", "HS512"];
    private static readonly string[] AsymmetricAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
    private static readonly string[] DefaultAsymmetric = ["RS256", "ES256"];
    private static readonly string[] DefaultSymmetric = ["HS256"];

    public static string[] EffectiveAlgorithms(AuthenticationPolicyOptions policy) =>
        policy.Algorithms.Count > 0 ? [.. policy.Algorithms] : policy.SigningKey is not null ? DefaultSymmetric : DefaultAsymmetric;

    public static bool IsJwt(AuthenticationPolicyOptions policy) => string.Equals(policy.Type, JwtType, StringComparison.OrdinalIgnoreCase);

    public static bool IsApiKey(AuthenticationPolicyOptions policy) => string.Equals(policy.Type, ApiKeyType, StringComparison.OrdinalIgnoreCase);

    /// <summary>The header a policy reads its credential from: <c>Authorization</c> for Jwt, <c>Header</c> for ApiKey.</summary>
    public static string CredentialHeader(AuthenticationPolicyOptions policy) => IsJwt(policy) ? "Authorization" : policy.Header;

    /// <summary>
    /// The first two of <paramref name="names"/> (in order) that read their credential from the same header, or null.
    /// The policy that validates a request is the first listed whose credential is present, so the later one of such a
    /// pair is never consulted: its tokens or keys are refused by the earlier one.
    /// </summary>
    public static (string First, string Shadowed, string Header)? FindShadowed(IEnumerable<string> names, IReadOnlyDictionary<string, AuthenticationPolicyOptions> policies)
    {
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
        {
            if (!policies.TryGetValue(name, out var policy) || policy is null || !(IsJwt(policy) || IsApiKey(policy)))
            {
                continue;
            }

            var header = CredentialHeader(policy);
            if (!seen.TryAdd(header, name))
            {
                return (seen[header], name, header);
            }
        }

        return null;
    }

    public static void Validate(string name, AuthenticationPolicyOptions policy, ConfigErrorList errors, string identityHeaderPrefix = "X-Edge-")
    {
        var at = $"Edge:Authentication:{name}";
        if (string.Equals(name, AuthorizationSections.AnonymousPolicy, StringComparison.OrdinalIgnoreCase) || name.Contains(',', StringComparison.Ordinal))
        {
            errors.Add(at, $"'{name}' cannot name a policy ('{AuthorizationSections.AnonymousPolicy}' is reserved, and commas separate policies on a route)");
        }

        if (policy.MaxCredentialLength is < 16 or > 65536)
        {
            errors.Add(at + ":MaxCredentialLength", "must be between 16 and 65536");
        }

        foreach (var (field, claim) in new[] { ("PrincipalClaim", policy.PrincipalClaim), ("RoleClaim", policy.RoleClaim), ("TenantClaim", policy.TenantClaim) })
        {
            if (string.IsNullOrWhiteSpace(claim))
            {
                errors.Add($"{at}:{field}", "must not be empty");
            }
        }

        if (policy.IdentitySigningKey is not null)
        {
            ValidateSecret(policy.IdentitySigningKey, at + ":IdentitySigningKey", errors);
        }

        if (IsJwt(policy))
        {
            ValidateJwt(policy, at, errors);
        }
        else if (IsApiKey(policy))
        {
            ValidateApiKey(policy, at, errors, identityHeaderPrefix);
        }
        else
        {
            errors.Add(at + ":Type", $"'{policy.Type}' is not a known type; use {JwtType} or {ApiKeyType}");
        }
    }

    private static void ValidateJwt(AuthenticationPolicyOptions policy, string at, ConfigErrorList errors)
    {
        var sources = (policy.SigningKey is null ? 0 : 1) + (policy.JwksUrl is null ? 0 : 1) + (policy.Authority is null ? 0 : 1);
        if (sources != 1)
        {
            errors.Add(at, "a Jwt policy needs exactly one key source: SigningKey (HS*), JwksUrl or Authority (RS*/PS*/ES*)");
        }

        if (string.IsNullOrWhiteSpace(policy.Issuer) && policy.Authority is null)
        {
            errors.Add(at + ":Issuer", "is required (the token's iss must match it)");
        }

        if (string.IsNullOrWhiteSpace(policy.Audience))
        {
            errors.Add(at + ":Audience", "is required (the token's aud must contain it)");
        }

        if (policy.ClockSkew < TimeSpan.Zero || policy.ClockSkew > TimeSpan.FromMinutes(5))
        {
            errors.Add(at + ":ClockSkew", "must be between 00:00:00 and 00:05:00");
        }

        if (policy.Keys.Count > 0)
        {
            errors.Add(at + ":Keys", "API keys belong to an ApiKey policy");
        }

        var symmetric = policy.SigningKey is not null;
        foreach (var algorithm in EffectiveAlgorithms(policy))
        {
            var isSymmetric = SymmetricAlgorithms.Contains(algorithm, StringComparer.Ordinal);
            if (!isSymmetric && !AsymmetricAlgorithms.Contains(algorithm, StringComparer.Ordinal))
            {
                errors.Add(at + ":Algorithms", $"'{algorithm}' is not accepted; use {string.Join(", ", SymmetricAlgorithms)} with SigningKey or {string.Join(", ", AsymmetricAlgorithms)} with JwksUrl/Authority");
            }
            else if (isSymmetric != symmetric)
            {
                // Mixing HMAC and public-key algorithms is what algorithm-confusion attacks exploit.
                errors.Add(at + ":Algorithms", $"'{algorithm}' does not fit the key source: HS* needs SigningKey, RS*/PS*/ES* need JwksUrl or Authority");
            }
        }

        if (policy.SigningKey is not null)
        {
            ValidateSecret(policy.SigningKey, at + ":SigningKey", errors);
        }

        foreach (var (field, url) in new[] { ("JwksUrl", policy.JwksUrl), ("Authority", policy.Authority) })
        {
            if (url is null)
            {
                continue;
            }

            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            {
                errors.Add($"{at}:{field}", $"'{UrlText.WithoutUserInfo(url)}' is not an absolute http(s) URL");
            }
            else if (uri.UserInfo.Length > 0)
            {
                // HttpClient never sends them (a provider that needs them refused every key fetch, and so every token),
                // and a password in proxy.json is an inline secret. The value is not repeated: it holds them.
                errors.Add($"{at}:{field}", "the URL has a user name or password ('user:password@'): HttpClient never sends them, and a secret in proxy.json must be an env: or file: reference; remove it");
            }
            else if (uri.Scheme == Uri.UriSchemeHttp && policy.RequireHttpsMetadata)
            {
                errors.Add($"{at}:{field}", "must be https (set RequireHttpsMetadata to false only for a loopback test identity provider)");
            }
        }

        if (policy.SigningKey is null)
        {
            if (policy.KeyRefreshInterval < TimeSpan.FromMinutes(5))
            {
                errors.Add(at + ":KeyRefreshInterval", "must be at least 00:05:00");
            }

            if (policy.KeyRefreshMinimumInterval < TimeSpan.FromSeconds(1))
            {
                errors.Add(at + ":KeyRefreshMinimumInterval", "must be at least 00:00:01");
            }
        }
    }

    private static void ValidateApiKey(AuthenticationPolicyOptions policy, string at, ConfigErrorList errors, string identityHeaderPrefix)
    {
        if (policy.SigningKey is not null || policy.JwksUrl is not null || policy.Authority is not null || policy.Algorithms.Count > 0)
        {
            errors.Add(at, "SigningKey, JwksUrl, Authority and Algorithms belong to a Jwt policy");
        }

        if (!HttpToken.IsToken(policy.Header))
        {
            errors.Add(at + ":Header", $"'{policy.Header}' is not a header name ({HttpToken.NameRule})");
        }
        // '_' counts as '-' as when the edge strips client headers: X_Edge_Key never reached the step, and every request
        // of the route was refused authentication_required.
        else if (IdentityHeaderPrefix.Covers(identityHeaderPrefix, policy.Header) || string.Equals(policy.Header, "Authorization", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(at + ":Header", $"'{policy.Header}' cannot carry API keys (identity headers starting with '{identityHeaderPrefix}', '_' counting as '-', are removed; Authorization belongs to bearer tokens)");
        }
        else if (EdgeOwnedHeaders.WhyOwned(policy.Header) is { } owned)
        {
            errors.Add(at + ":Header", $"{owned}; an API key needs a header of its own such as X-Api-Key");
        }
        else if (policy.Header.Contains('_', StringComparison.Ordinal))
        {
            // Underscore spellings of credential headers are removed before forwarding (the validated one too), and a
            // CGI-style backend reads the client's dashed spelling, which the edge never checked, as this header.
            errors.Add(at + ":Header", $"'{policy.Header}' has '_': PHP, WSGI and Rack read it and its '-' spelling as one header, and the edge removes underscore spellings of credential headers; use '{policy.Header.Replace('_', '-')}'");
        }

        if (policy.Keys.Count == 0)
        {
            errors.Add(at + ":Keys", "an ApiKey policy needs at least one key");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < policy.Keys.Count; i++)
        {
            var key = policy.Keys[i];
            var where = $"{at}:Keys[{i}]";
            if (key.Sha256.Length != 64 || !key.Sha256.All(char.IsAsciiHexDigit))
            {
                errors.Add(where + ":Sha256", "must be the 64 hex characters of the key's SHA-256 (the key itself never goes in proxy.json)");
            }
            else if (!seen.Add(key.Sha256))
            {
                errors.Add(where + ":Sha256", "the same key hash is listed twice");
            }

            if (!CredentialText.IsValidPrincipal(key.Principal))
            {
                errors.Add(where + ":Principal", $"must be 1-{CredentialText.MaxPrincipalLength} visible ASCII characters");
            }

            if (key.Tenant is not null && !TenantId.IsValid(key.Tenant))
            {
                errors.Add(where + ":Tenant", $"'{key.Tenant}' is not a tenant id (1-{TenantId.MaxLength} characters from [A-Za-z0-9._-], not dots only)");
            }

            foreach (var role in key.Roles)
            {
                if (!CredentialText.IsValidRole(role))
                {
                    errors.Add(where + ":Roles", $"'{role}' is not a role name (1-{CredentialText.MaxRoleLength} characters from [A-Za-z0-9._:-])");
                }
            }
        }
    }

    private static void ValidateSecret(string reference, string location, ConfigErrorList errors)
    {
        if (!SecretReference.TryResolve(reference, out var secret, out var error))
        {
            errors.Add(location, error);
        }
        else if (Encoding.UTF8.GetByteCount(secret) < MinimumSecretBytes)
        {
            errors.Add(location, $"the secret must be at least {MinimumSecretBytes} bytes (UTF-8)");
        }
    }
}
