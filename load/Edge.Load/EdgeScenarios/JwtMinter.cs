using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Edge.Load.EdgeScenarios;

/// <summary>Mints HS256 JWTs with the claims the edge's JWT + RBAC steps read: sub, tenant_id, roles, iss, aud.</summary>
internal sealed class JwtMinter(byte[] key, string issuer, string audience, TimeProvider timeProvider)
{
    private static readonly string Header = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);

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
        var signingInput = Header + "." + Base64Url.EncodeToString(payload);
        var signature = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }
}
