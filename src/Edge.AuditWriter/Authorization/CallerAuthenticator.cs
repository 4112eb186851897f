using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.AuditWriter.Authorization;

/// <summary>
/// Authenticates read-API callers with the edge's own proxy.json entry (Writer:Authentication in Edge:Authentication)
/// and maps roles to permissions through Edge:Roles. Supports ApiKey and HS256 Jwt entries.
/// </summary>
internal sealed class CallerAuthenticator
{
    private readonly AuthenticationEntry? _entry;
    private readonly IReadOnlyDictionary<string, string[]> _roles;
    private readonly TokenValidationParameters? _jwtParameters;
    private readonly JsonWebTokenHandler _jwtHandler = new() { MapInboundClaims = false };

    public CallerAuthenticator(IOptions<WriterOptions> options)
    {
        var writer = options.Value;
        _roles = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(writer.ProxyConfigPath) || string.IsNullOrEmpty(writer.Authentication))
        {
            return;
        }

        var edge = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(writer.ProxyConfigPath), optional: false, reloadOnChange: false)
            .Build().GetSection("Edge");
        var section = edge.GetSection("Authentication").GetSection(writer.Authentication);
        if (!section.Exists())
        {
            throw new InvalidOperationException($"Writer:Authentication '{writer.Authentication}' is not an entry of Edge:Authentication in {writer.ProxyConfigPath}.");
        }

        _entry = section.Get<AuthenticationEntry>() ?? throw new InvalidOperationException("The authentication entry is empty.");
        _roles = edge.GetSection("Roles").GetChildren()
            .ToDictionary(role => role.Key, role => role.GetChildren().Select(p => p.Value ?? "").ToArray(), StringComparer.Ordinal);
        if (string.Equals(_entry.Type, "Jwt", StringComparison.OrdinalIgnoreCase))
        {
            if (string.IsNullOrEmpty(_entry.SigningKey))
            {
                throw new InvalidOperationException("The writer supports HS256 Jwt entries with a SigningKey (env:/file:); JWKS entries are not supported yet.");
            }

            var key = Encoding.UTF8.GetBytes(SecretReference.Resolve(_entry.SigningKey));
            if (key.Length < 32)
            {
                throw new InvalidOperationException("An HS256 signing key must be at least 32 bytes.");
            }

            _jwtParameters = new TokenValidationParameters
            {
                ValidIssuer = _entry.Issuer,
                ValidateIssuer = _entry.Issuer is not null,
                ValidAudience = _entry.Audience,
                ValidateAudience = _entry.Audience is not null,
                IssuerSigningKey = new SymmetricSecurityKey(key),
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                ClockSkew = TimeSpan.FromSeconds(30),
            };
        }
        else if (!string.Equals(_entry.Type, "ApiKey", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Unsupported authentication type '{_entry.Type}'.");
        }
    }

    /// <summary>Null when the request carries no valid credentials.</summary>
    public async Task<AuditCaller?> AuthenticateAsync(HttpRequest request)
    {
        if (_entry is null)
        {
            return null;
        }

        if (_jwtParameters is not null)
        {
            var header = request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            var result = await _jwtHandler.ValidateTokenAsync(header[7..].Trim(), _jwtParameters).ConfigureAwait(false);
            if (!result.IsValid)
            {
                return null;
            }

            var identity = result.ClaimsIdentity;
            var principal = identity.FindFirst("sub")?.Value ?? "unknown";
            var tenant = identity.FindFirst(_entry.TenantClaim ?? "tenant_id")?.Value;
            var roles = identity.FindAll(_entry.RoleClaim ?? "roles").Select(c => c.Value);
            return new AuditCaller(principal, tenant, Permissions(roles));
        }

        var presented = request.Headers[_entry.Header ?? "X-Api-Key"].ToString();
        if (presented.Length == 0)
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        AuditCaller? match = null;
        foreach (var key in _entry.Keys ?? [])
        {
            // Check every entry in constant time so timing does not reveal which key matched.
            var expected = key.Sha256 is { Length: 64 } hex ? Convert.FromHexString(hex) : new byte[32];
            if (CryptographicOperations.FixedTimeEquals(hash, expected) && match is null)
            {
                match = new AuditCaller(key.Principal ?? "unknown", key.Tenant, Permissions(key.Roles ?? []));
            }
        }

        return match;
    }

    private HashSet<string> Permissions(IEnumerable<string> roles)
    {
        var permissions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            if (_roles.TryGetValue(role, out var granted))
            {
                permissions.UnionWith(granted);
            }
        }

        return permissions;
    }

    internal sealed record AuthenticationEntry
    {
        public string Type { get; init; } = "";
        public string? Header { get; init; }
        public ApiKeyEntry[]? Keys { get; init; }
        public string? Issuer { get; init; }
        public string? Audience { get; init; }
        public string? SigningKey { get; init; }
        public string? RoleClaim { get; init; }
        public string? TenantClaim { get; init; }
    }

    internal sealed record ApiKeyEntry
    {
        public string? Sha256 { get; init; }
        public string? Principal { get; init; }
        public string? Tenant { get; init; }
        public string[]? Roles { get; init; }
    }
}
