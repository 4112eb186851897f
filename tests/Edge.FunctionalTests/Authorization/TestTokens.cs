using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Edge.FunctionalTests.Authorization;

/// <summary>Signing keys generated per test run and tokens minted with them.</summary>
internal sealed class TestTokens : IDisposable
{
    public const string Issuer = "https://id.test";
    public const string Audience = "edge";

    private static readonly JsonWebTokenHandler Handler = new();

    public TestTokens()
    {
        HmacSecret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        HmacEnvironmentVariable = "EDGE_TEST_HS_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(HmacEnvironmentVariable, HmacSecret);
    }

    public string HmacSecret { get; }

    public string HmacEnvironmentVariable { get; }

    public RSA Rsa { get; } = RSA.Create(2048);

    public ECDsa EcDsa { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public string RsaKeyId { get; } = "rsa-" + Guid.NewGuid().ToString("N")[..8];

    public string EcKeyId { get; } = "ec-" + Guid.NewGuid().ToString("N")[..8];

    public SigningCredentials Hs256 => new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(HmacSecret)), SecurityAlgorithms.HmacSha256);

    public SigningCredentials Rs256 => new(new RsaSecurityKey(Rsa) { KeyId = RsaKeyId }, SecurityAlgorithms.RsaSha256);

    public SigningCredentials Es256 => new(new ECDsaSecurityKey(EcDsa) { KeyId = EcKeyId }, SecurityAlgorithms.EcdsaSha256);

    /// <summary>A token with sensible defaults; <paramref name="claims"/> and the optional values override them.</summary>
    public static string Create(
        SigningCredentials credentials,
        string subject = "alice",
        IDictionary<string, object>? claims = null,
        string issuer = Issuer,
        string audience = Audience,
        DateTime? notBefore = null,
        DateTime? expires = null)
    {
        var now = DateTime.UtcNow;
        var payload = new Dictionary<string, object> { ["sub"] = subject };
        foreach (var (key, value) in claims ?? new Dictionary<string, object>())
        {
            payload[key] = value;
        }

        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = payload,
            IssuedAt = (notBefore ?? now).AddSeconds(-1),
            NotBefore = notBefore ?? now.AddSeconds(-1),
            Expires = expires ?? now.AddMinutes(5),
            SigningCredentials = credentials,
        });
    }

    /// <summary>A token without <c>nbf</c>, as many identity providers issue access tokens.</summary>
    public static string CreateWithoutNotBefore(SigningCredentials credentials, string subject = "alice") =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = new Dictionary<string, object> { ["sub"] = subject },
            IssuedAt = DateTime.UtcNow,
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = credentials,
        });

    /// <summary>An unsigned token (<c>alg: none</c>) carrying otherwise valid claims.</summary>
    public static string CreateUnsigned(IDictionary<string, object>? claims = null)
    {
        var now = DateTimeOffset.UtcNow;
        var payload = new Dictionary<string, object>
        {
            ["sub"] = "mallory",
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["nbf"] = now.AddSeconds(-1).ToUnixTimeSeconds(),
            ["exp"] = now.AddMinutes(5).ToUnixTimeSeconds(),
        };
        foreach (var (key, value) in claims ?? new Dictionary<string, object>())
        {
            payload[key] = value;
        }

        return Base64Url(JsonSerializer.SerializeToUtf8Bytes(new { alg = "none", typ = "JWT" })) + "." + Base64Url(JsonSerializer.SerializeToUtf8Bytes(payload)) + ".";
    }

    /// <summary>
    /// The classic algorithm-confusion forgery: an HS256 token whose HMAC key is the RSA public key as published (PEM),
    /// which a naive verifier would use as a shared secret.
    /// </summary>
    public string CreateHsSignedWithRsaPublicKey()
    {
        var pem = Encoding.UTF8.GetBytes(Rsa.ExportSubjectPublicKeyInfoPem());
        return Create(new SigningCredentials(new SymmetricSecurityKey(pem) { KeyId = RsaKeyId }, SecurityAlgorithms.HmacSha256), subject: "mallory");
    }

    public string JwksJson() => JwtSigningKey.JwksJson(JwtSigningKey.Rs256(Rsa, RsaKeyId), JwtSigningKey.Es256(EcDsa, EcKeyId));

    public static string Base64Url(byte[] bytes) => Base64UrlEncoder.Encode(bytes);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(HmacEnvironmentVariable, null);
        Rsa.Dispose();
        EcDsa.Dispose();
    }
}
