using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;

namespace Edge.Configuration.Authorization;

/// <summary>
/// API keys in a header. Only SHA-256 hashes are configured; the presented key is hashed and compared with every
/// configured hash in constant time, so neither the match nor its position leaks through timing.
/// </summary>
internal sealed class ApiKeyCredentialScheme : ICredentialScheme
{
    public const string MethodName = "api-key";

    private readonly string _policyName;
    private readonly AuthenticationPolicyOptions _policy;
    private readonly EdgePermissionResolver _permissions;
    private readonly (byte[] Hash, ApiKeyEntry Entry, string[] Roles)[] _keys;

    public ApiKeyCredentialScheme(string policyName, AuthenticationPolicyOptions policy, EdgePermissionResolver permissions)
    {
        _policyName = policyName;
        _policy = policy;
        _permissions = permissions;
        _keys = policy.Keys
            .Select(k => (Convert.FromHexString(k.Sha256), k, k.Roles.Where(r => CredentialText.IsValidRole(r)).Distinct(StringComparer.Ordinal).ToArray()))
            .ToArray();
        Challenge = $"ApiKey realm=\"edge\", header=\"{policy.Header}\"";
    }

    public string Method => MethodName;

    public string CredentialHeader => _policy.Header;

    public string Challenge { get; }

    public bool HasCredential(HttpRequest request) => request.Headers.ContainsKey(_policy.Header);

    public ValueTask<EdgeAuthenticationResult> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var values = request.Headers[_policy.Header];
        if (values.Count == 0)
        {
            return Result(EdgeAuthenticationResult.Fail(
                AuthenticationCodes.AuthenticationRequired, AuthenticationCodes.AuthenticationRequired, $"An API key in the {_policy.Header} header is required.", Challenge));
        }

        if (values.Count > 1)
        {
            return Invalid("multiple_keys", "Send exactly one API key.");
        }

        var key = values[0].AsSpan().Trim();
        if (key.IsEmpty)
        {
            return Invalid("empty", "The API key is empty.");
        }

        if (key.Length > _policy.MaxCredentialLength)
        {
            return Invalid("too_large", "The API key is too long.");
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var utf8 = Encoding.UTF8.GetByteCount(key);
        var buffer = utf8 <= 1024 ? stackalloc byte[utf8] : new byte[utf8];
        Encoding.UTF8.GetBytes(key, buffer);
        SHA256.HashData(buffer, hash);

        var matched = -1;
        for (var i = 0; i < _keys.Length; i++)
        {
            // No early exit: every configured hash is compared.
            if (CryptographicOperations.FixedTimeEquals(hash, _keys[i].Hash))
            {
                matched = i;
            }
        }

        if (matched < 0)
        {
            return Invalid("unknown_key", "The API key is not valid.");
        }

        var (_, entry, roles) = _keys[matched];
        var claims = new List<Claim>(2 + roles.Length) { new(_policy.PrincipalClaim, entry.Principal) };
        if (entry.Tenant is not null)
        {
            claims.Add(new Claim(_policy.TenantClaim, entry.Tenant));
        }

        foreach (var role in roles)
        {
            claims.Add(new Claim(_policy.RoleClaim, role));
        }

        var user = new ClaimsPrincipal(new ClaimsIdentity(claims, MethodName, _policy.PrincipalClaim, _policy.RoleClaim));
        return Result(EdgeAuthenticationResult.Success(new EdgeIdentity
        {
            Principal = entry.Principal,
            Tenant = entry.Tenant,
            Roles = roles,
            Permissions = _permissions.Resolve(roles),
            Method = MethodName,
            Policy = _policyName,
            User = user,
        }));
    }

    private ValueTask<EdgeAuthenticationResult> Invalid(string reason, string detail) =>
        Result(EdgeAuthenticationResult.Fail(AuthenticationCodes.ApiKeyInvalid, AuthenticationCodes.ApiKeyInvalid + ":" + reason, detail, Challenge));

    private static ValueTask<EdgeAuthenticationResult> Result(EdgeAuthenticationResult result) => ValueTask.FromResult(result);
}
