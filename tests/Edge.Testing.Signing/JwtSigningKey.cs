using System.Buffers.Text;
using System.Security.Cryptography;

namespace Edge.Testing.Signing;

/// <summary>A JWS signing key: HS256 (shared secret), RS256 or ES256 (private key with a <c>kid</c> published in a JWKS).</summary>
public sealed class JwtSigningKey
{
    // The HMAC secret (byte[]), an RSA or an ECDsa key: the algorithm decides which.
    private readonly object _material;

    private JwtSigningKey(string algorithm, string? keyId, object material) => (Algorithm, KeyId, _material) = (algorithm, keyId, material);

    public string Algorithm { get; }

    public string? KeyId { get; }

    public static JwtSigningKey Hs256(byte[] key) => new("HS256", null, key);

    public static JwtSigningKey Rs256(RSA rsa, string keyId) => new("RS256", keyId, rsa);

    public static JwtSigningKey Es256(ECDsa ecdsa, string keyId) => new("ES256", keyId, ecdsa);

    /// <summary>Reads an RS256 or ES256 private key from PEM (PKCS#8 or the algorithm's own format).</summary>
    public static JwtSigningKey FromPem(string algorithm, string pem, string keyId)
    {
        switch (algorithm)
        {
            case "RS256":
                var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                return Rs256(rsa, keyId);
            case "ES256":
                var ecdsa = ECDsa.Create();
                ecdsa.ImportFromPem(pem);
                return Es256(ecdsa, keyId);
            default:
                throw new ArgumentException($"'{algorithm}' is not RS256 or ES256.", nameof(algorithm));
        }
    }

    public byte[] Sign(ReadOnlySpan<byte> signingInput) => _material switch
    {
        byte[] secret => HMACSHA256.HashData(secret, signingInput),
        RSA rsa => rsa.SignData(signingInput.ToArray(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        _ => ((ECDsa)_material).SignData(signingInput.ToArray(), HashAlgorithmName.SHA256),
    };

    /// <summary>The public half as a JWK, or null for a shared secret (which is never published).</summary>
    public object? ToPublicJwk()
    {
        if (_material is RSA rsa)
        {
            var p = rsa.ExportParameters(false);
            return new { kty = "RSA", kid = KeyId, use = "sig", alg = Algorithm, n = Base64Url.EncodeToString(p.Modulus), e = Base64Url.EncodeToString(p.Exponent) };
        }

        if (_material is ECDsa ecdsa)
        {
            var p = ecdsa.ExportParameters(false);
            return new { kty = "EC", kid = KeyId, use = "sig", alg = Algorithm, crv = "P-256", x = Base64Url.EncodeToString(p.Q.X), y = Base64Url.EncodeToString(p.Q.Y) };
        }

        return null;
    }

    /// <summary>A JWKS document (<c>{"keys":[...]}</c>) with the public keys of the asymmetric keys given.</summary>
    public static string JwksJson(params JwtSigningKey[] keys) =>
        System.Text.Json.JsonSerializer.Serialize(new { keys = keys.Select(static k => k.ToPublicJwk()).Where(static k => k is not null).ToArray() });
}
