using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Edge.Testing.Signing;

/// <summary>
/// Mints compact JWS tokens with the claims the edge's JWT + RBAC steps read: sub, tenant_id, roles, iss, aud, exp.
/// Written from RFC 7515/7519, not with the edge's validator library, so both sides are independent.
/// </summary>
public sealed class JwtMinter(JwtSigningKey key, string issuer, string audience, TimeProvider timeProvider)
{
    private readonly string _header = Base64Url.EncodeToString(key.KeyId is null
        ? JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = key.Algorithm, ["typ"] = "JWT" })
        : JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = key.Algorithm, ["typ"] = "JWT", ["kid"] = key.KeyId }));

    public string Mint(string subject, string tenant, IReadOnlyList<string> roles, TimeSpan lifetime)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["sub"] = subject,
            ["tenant_id"] = tenant,
            ["roles"] = roles,
            ["iss"] = issuer,
            ["aud"] = audience,
            ["iat"] = now,
            ["nbf"] = now - 5,
            ["exp"] = now + (long)lifetime.TotalSeconds,
            ["jti"] = Guid.NewGuid().ToString("N"),
        });
        var signingInput = _header + "." + Base64Url.EncodeToString(payload);
        return signingInput + "." + Base64Url.EncodeToString(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
    }
}
