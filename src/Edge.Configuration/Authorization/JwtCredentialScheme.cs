using System.Buffers;
using System.Collections.Frozen;
using System.Security.Claims;
using System.Text;
using Edge.Configuration;
using Edge.Configuration.Tenancy;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Edge.Configuration.Authorization;

/// <summary>
/// Bearer JWTs validated with <see cref="JsonWebTokenHandler"/> and <see cref="TokenValidationParameters"/> built from
/// the policy: pinned algorithms (so <c>none</c> and HS/RS confusion cannot pass), issuer, audience, <c>exp</c> and
/// <c>nbf</c> with the policy's clock skew, and the header rules of <see cref="JwsHeaderRules"/> (<c>crit</c>, duplicate
/// members, <c>typ</c>) checked before parsing. HS keys come from a secret reference; RS/ES/PS keys from a cached JWKS.
/// Tokens that validated are kept in a <see cref="ValidatedTokenCache"/> (one per scheme, so a config reload starts
/// empty); a hit re-checks <c>exp</c>/<c>nbf</c> and that the key set it was validated against is still the current one.
/// </summary>
internal sealed class JwtCredentialScheme : ICredentialScheme
{
    public const string MethodName = "jwt";

    private const string BearerPrefix = "Bearer ";

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    private static readonly SearchValues<char> DescriptionCharacters = SearchValues.Create(
        string.Concat(Enumerable.Range(0x20, 0x7F - 0x20).Where(c => c is not ('"' or '\\')).Select(c => (char)c)));

    private static readonly SearchValues<char> TokenCharacters = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");

    private readonly string _policyName;
    private readonly AuthenticationPolicyOptions _policy;
    private readonly EdgePermissionResolver _permissions;
    private readonly FrozenSet<string> _algorithms;
    private readonly TokenValidationParameters _parameters;
    private readonly SigningKeySource? _keys;
    private readonly TimeProvider _time;
    private readonly ValidatedTokenCache _validated;
    private readonly bool _spaceSeparatedRoles;
    private KeySnapshot? _current;

    public JwtCredentialScheme(string policyName, AuthenticationPolicyOptions policy, EdgePermissionResolver permissions, SigningKeyCache keyCache, TimeProvider time)
    {
        _policyName = policyName;
        _time = time;
        _validated = new ValidatedTokenCache();
        _policy = policy;
        _permissions = permissions;
        _spaceSeparatedRoles = policy.RoleClaim is "scope" or "scp";
        var algorithms = AuthenticationPolicyRules.EffectiveAlgorithms(policy);
        _algorithms = algorithms.ToFrozenSet(StringComparer.Ordinal);
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = policy.Issuer,
            ValidateIssuer = true,
            ValidAudience = policy.Audience,
            ValidateAudience = true,
            // RFC 7519 4.1.3: aud is compared as a case-sensitive string, as iss already is. IdentityModel ignores a
            // trailing '/' on aud by default, so a token for "https://api.example/" passed a policy for
            // "https://api.example" (and the reverse).
            IgnoreTrailingSlashWhenValidatingAudience = false,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = policy.ClockSkew,
            RequireSignedTokens = true,
            ValidAlgorithms = algorithms,
            ValidateIssuerSigningKey = true,
            NameClaimType = policy.PrincipalClaim,
            RoleClaimType = policy.RoleClaim,
            AuthenticationType = MethodName,
        };

        if (policy.SigningKey is not null)
        {
            if (!SecretReference.TryResolve(policy.SigningKey, out var secret, out var error))
            {
                throw new InvalidOperationException($"Edge:Authentication:{policyName}:SigningKey: {error}");
            }

            _parameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));
        }
        else
        {
            _keys = keyCache.Get(policy);
        }

        Challenge = "Bearer realm=\"edge\"";
    }

    public string Method => MethodName;

    public string CredentialHeader => "Authorization";

    public string Challenge { get; }

    public bool HasCredential(HttpRequest request)
    {
        var values = request.Headers.Authorization;
        return values.Count > 0 && values[0] is { } value && value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase);
    }

    public async ValueTask<EdgeAuthenticationResult> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var values = request.Headers.Authorization;
        if (values.Count == 0 || !HasCredential(request))
        {
            return EdgeAuthenticationResult.Fail(AuthenticationCodes.AuthenticationRequired, AuthenticationCodes.AuthenticationRequired, "A bearer token is required.", Challenge);
        }

        if (values.Count > 1)
        {
            return Invalid("multiple_authorization_headers", "Send exactly one Authorization header.");
        }

        if (TokenOf(values[0]!).Length > _policy.MaxCredentialLength)
        {
            return Invalid("too_large", "The token is too long.");
        }

        var hash = ValidatedTokenCache.Hash(TokenOf(values[0]!));
        if (_validated.TryGet(hash, out var cached) && await TryServeCachedAsync(hash, cached, cancellationToken) is { } served)
        {
            return served;
        }

        var token = TokenOf(values[0]!);

        // A JWS compact serialization has exactly three parts; JWE (five) and anything else is refused before parsing.
        if (token.IsEmpty || token.Count('.') != 2)
        {
            return Invalid("malformed", "The token is not a signed JWT.");
        }

        // RFC 7515 §2: base64url without padding. The decoders also take '=' and skip whitespace, so "sig=" or "s ig"
        // was another spelling of the same token: a second cache key, and a "new" token to a backend that remembers them.
        if (token.ContainsAnyExcept(TokenCharacters))
        {
            return Invalid("malformed", "The token is not base64url without padding.");
        }

        var headerEnd = token.IndexOf('.');
        if (JwsHeaderRules.Check(token[..headerEnd]) is { } headerProblem)
        {
            return Invalid(headerProblem.Reason, headerProblem.Detail);
        }

        var payload = token[(headerEnd + 1)..];
        if (JwtPayloadRules.Check(payload[..payload.IndexOf('.')]) is { } payloadProblem)
        {
            return Invalid(payloadProblem.Reason, payloadProblem.Detail);
        }

        JsonWebToken jwt;
        try
        {
            jwt = new JsonWebToken(token.ToString());
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Untrusted input: whatever the parser throws, the answer is the same 401.
            return Invalid("malformed", "The token cannot be parsed.");
        }

        var claimed = TryGetClaim(jwt, _policy.PrincipalClaim);
        var algorithm = jwt.Alg;
        if (string.IsNullOrEmpty(algorithm) || string.Equals(algorithm, "none", StringComparison.OrdinalIgnoreCase))
        {
            return Invalid("alg_none", "Unsigned tokens are not accepted.", claimed);
        }

        if (!_algorithms.Contains(algorithm))
        {
            return Invalid("algorithm", "The token's signing algorithm is not accepted.", claimed);
        }

        if (token.EndsWith("."))
        {
            return Invalid("unsigned", "The token has no signature.", claimed);
        }

        KeySnapshot keySet;
        try
        {
            keySet = await GetKeySetAsync(cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // No keys were ever fetched (the JWKS or discovery endpoint is down or invalid).
            return EdgeAuthenticationResult.Fail(
                AuthenticationCodes.AuthenticationUnavailable,
                AuthenticationCodes.AuthenticationUnavailable + ":keys_unavailable",
                "The token signing keys cannot be fetched; try again later.",
                Challenge,
                claimed,
                StatusCodes.Status503ServiceUnavailable);
        }

        var result = await Handler.ValidateTokenAsync(jwt, keySet.Parameters);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException && _keys is not null)
        {
            // An unknown kid usually means the identity provider rotated its keys: wait for a re-fetch (rate limited by
            // the source) and validate this token against it.
            try
            {
                keySet = Snapshot(await _keys.RefreshAsync(cancellationToken));
                result = await Handler.ValidateTokenAsync(jwt, keySet.Parameters);
            }
            catch (InvalidOperationException)
            {
            }
        }

        if (!result.IsValid)
        {
            return Map(result.Exception, claimed, jwt.Kid);
        }

        var identity = result.ClaimsIdentity;
        var principal = Single(identity, _policy.PrincipalClaim, out var principalRepeated);
        if (principal is null || principalRepeated || !CredentialText.IsValidPrincipal(principal))
        {
            return Invalid("principal_invalid", $"The token's {_policy.PrincipalClaim} claim is missing or not printable ASCII of at most {CredentialText.MaxPrincipalLength} characters.");
        }

        // An array claim becomes one claim per value; a token naming several tenants is not bound to one of them, and one
        // naming none ("tenant_id": [], a multi-valued attribute of a user without tenants) to none: it has no claim
        // value, and passed as an unbound token that may name any tenant.
        var tenant = Single(identity, _policy.TenantClaim, out var tenantRepeated);
        if (tenantRepeated || (tenant is null ? HasPayloadMember(jwt, _policy.TenantClaim) : !TenantId.IsValid(tenant)))
        {
            return Invalid("tenant_claim_invalid", $"The token's {_policy.TenantClaim} claim is not a valid tenant id.", principal);
        }

        // scope and scp are one string of space-separated scopes (RFC 8693 §4.2, RFC 9068 §2.2.3): each scope is a role.
        var roles = identity.FindAll(_policy.RoleClaim)
            .SelectMany(c => _spaceSeparatedRoles ? c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [c.Value])
            .Where(r => CredentialText.IsValidRole(r))
            .Distinct(StringComparer.Ordinal)
            .ToArray();

        var success = EdgeAuthenticationResult.Success(new EdgeIdentity
        {
            Principal = principal,
            Tenant = tenant,
            Roles = roles,
            Permissions = _permissions.Resolve(roles),
            Method = MethodName,
            Policy = _policyName,
            User = new ClaimsPrincipal(identity),
        });
        _validated.Add(hash, new ValidatedTokenCache.Entry(success, jwt.ValidFrom, jwt.ValidTo, keySet.Configuration));
        return success;
    }

    /// <summary>
    /// The cached result while it is still true: within <c>exp</c>/<c>nbf</c> and the clock skew on the injected clock
    /// (so an expired token gets the same <c>token_expired</c> as from full validation), and validated against the key
    /// set in use now. Null sends the token through full validation: after any key refresh, a token whose key was
    /// rotated out or revoked is checked again and refused there.
    /// </summary>
    private async ValueTask<EdgeAuthenticationResult?> TryServeCachedAsync(ValidatedTokenCache.TokenHash hash, ValidatedTokenCache.Entry entry, CancellationToken cancellationToken)
    {
        if (_keys is not null)
        {
            OpenIdConnectConfiguration configuration;
            try
            {
                configuration = await _keys.GetAsync(cancellationToken);
            }
            catch (InvalidOperationException)
            {
                return null;
            }

            if (!ReferenceEquals(configuration, entry.KeySet))
            {
                _validated.Remove(hash);
                return null;
            }
        }

        // The skew moves the clock, as IdentityModel's lifetime check does, not the token's times: a token without nbf
        // has DateTime.MinValue and one with a far-future exp DateTime.MaxValue, where the skew does not fit.
        var now = _time.GetUtcNow().UtcDateTime;
        var principal = entry.Result.Identity!.Principal;
        if (now - _policy.ClockSkew > entry.Expires)
        {
            _validated.Remove(hash);
            return Fail(AuthenticationCodes.TokenExpired, AuthenticationCodes.TokenExpired, "The token has expired.", principal);
        }

        if (now + _policy.ClockSkew < entry.NotBefore)
        {
            _validated.Remove(hash);
            return Fail(AuthenticationCodes.TokenNotYetValid, AuthenticationCodes.TokenNotYetValid, "The token is not valid yet.", principal);
        }

        return entry.Result;
    }

    private static ReadOnlySpan<char> TokenOf(string authorization) => authorization.AsSpan(BearerPrefix.Length).Trim();

    private async ValueTask<KeySnapshot> GetKeySetAsync(CancellationToken cancellationToken)
    {
        if (_keys is null)
        {
            return new KeySnapshot(null, _parameters);
        }

        return Snapshot(await _keys.GetAsync(cancellationToken));
    }

    private KeySnapshot Snapshot(OpenIdConnectConfiguration configuration)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && ReferenceEquals(current.Configuration, configuration))
        {
            return current;
        }

        var parameters = _parameters.Clone();
        parameters.IssuerSigningKeys = configuration.SigningKeys.ToArray();
        parameters.ValidIssuer = _policy.Issuer ?? configuration.Issuer;
        var snapshot = new KeySnapshot(configuration, parameters);
        Volatile.Write(ref _current, snapshot);
        return snapshot;
    }

    private EdgeAuthenticationResult Map(Exception? exception, string? claimed, string? keyId) => exception switch
    {
        SecurityTokenExpiredException => Fail(AuthenticationCodes.TokenExpired, AuthenticationCodes.TokenExpired, "The token has expired.", claimed),
        SecurityTokenNotYetValidException => Fail(AuthenticationCodes.TokenNotYetValid, AuthenticationCodes.TokenNotYetValid, "The token is not valid yet.", claimed),
        SecurityTokenInvalidIssuerException => Fail(AuthenticationCodes.TokenIssuerInvalid, AuthenticationCodes.TokenIssuerInvalid, "The token's issuer is not accepted.", claimed),
        SecurityTokenInvalidAudienceException => Fail(AuthenticationCodes.TokenAudienceInvalid, AuthenticationCodes.TokenAudienceInvalid, "The token's audience is not accepted.", claimed),
        SecurityTokenNoExpirationException => Invalid("no_expiration", "The token has no expiry.", claimed),
        SecurityTokenInvalidLifetimeException => Invalid("lifetime", "The token's nbf is after its exp: it was never valid.", claimed),
        // Without a kid (or with a single shared secret) a failed match is simply a bad signature.
        SecurityTokenSignatureKeyNotFoundException when _keys is null || string.IsNullOrEmpty(keyId) => Invalid("signature", "The token's signature is not valid.", claimed),
        SecurityTokenSignatureKeyNotFoundException => Invalid("key_not_found", "The token's signing key is not known.", claimed),
        SecurityTokenInvalidAlgorithmException => Invalid("algorithm", "The token's signing algorithm is not accepted.", claimed),
        SecurityTokenInvalidSignatureException => Invalid("signature", "The token's signature is not valid.", claimed),
        SecurityTokenMalformedException or ArgumentException => Invalid("malformed", "The token cannot be parsed.", claimed),
        _ => Invalid("rejected", "The token is not valid.", claimed),
    };

    private EdgeAuthenticationResult Fail(string code, string reason, string detail, string? claimed) =>
        EdgeAuthenticationResult.Fail(code, reason, detail, BearerError(detail), claimed);

    private EdgeAuthenticationResult Invalid(string reason, string detail, string? claimed = null) =>
        EdgeAuthenticationResult.Fail(AuthenticationCodes.TokenInvalid, AuthenticationCodes.TokenInvalid + ":" + reason, detail, BearerError(detail), claimed);

    // RFC 6750 section 3: error="invalid_token" for every token problem.
    private string BearerError(string description) => $"{Challenge}, error=\"invalid_token\", error_description=\"{ChallengeText(description)}\"";

    /// <summary>
    /// The description with every character RFC 6750 §3 does not allow in <c>error_description</c> (a '"', a backslash, anything
    /// outside printable ASCII) as '?': details name the policy's claims, and a '"' in one ended the quoted string.
    /// </summary>
    private static string ChallengeText(string text)
    {
        if (!text.AsSpan().ContainsAnyExcept(DescriptionCharacters))
        {
            return text;
        }

        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = DescriptionCharacters.Contains(source[i]) ? source[i] : '?';
            }
        });
    }

    /// <summary>The claim's value when the token carries it once; <paramref name="repeated"/> when it carries several.</summary>
    private static string? Single(ClaimsIdentity identity, string type, out bool repeated)
    {
        string? value = null;
        repeated = false;
        foreach (var claim in identity.FindAll(type))
        {
            if (value is not null)
            {
                repeated = true;
                return value;
            }

            value = claim.Value;
        }

        return value;
    }

    private static bool HasPayloadMember(JsonWebToken jwt, string claim)
    {
        try
        {
            return jwt.TryGetPayloadValue<object>(claim, out _);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Present, but in a shape the reader cannot give back: it is there.
            return true;
        }
    }

    private static string? TryGetClaim(JsonWebToken jwt, string claim)
    {
        try
        {
            return jwt.TryGetPayloadValue<string>(claim, out var value) && value is not null && CredentialText.IsValidPrincipal(value) ? value : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Validation parameters built for one fetched key set; swapped as a whole when the keys change.</summary>
    /// <remarks>Configuration is null for a configured secret, whose key only changes with a new scheme.</remarks>
    private sealed record KeySnapshot(OpenIdConnectConfiguration? Configuration, TokenValidationParameters Parameters);
}
