namespace Edge.Proxy.Auditing;

/// <summary>The kinds of secret or key a config change can rotate; the <c>kind</c> and reason code of a rotation record.</summary>
internal static class SecretRotationKinds
{
    /// <summary><c>Edge:Webhooks:{name}:Secrets</c>.</summary>
    public const string WebhookSecret = "webhook_secret";

    /// <summary><c>Edge:Webhooks:{name}:VerifyTokens</c> (Meta subscribe handshake).</summary>
    public const string WebhookVerifyToken = "webhook_verify_token";

    /// <summary><c>Edge:Authentication:{name}:SigningKey</c> (JWT HS* key).</summary>
    public const string JwtSigningKey = "jwt_signing_key";

    /// <summary><c>Edge:Authentication:{name}:Keys[].Sha256</c>.</summary>
    public const string ApiKey = "api_key";

    /// <summary><c>Edge:Authentication:{name}:IdentitySigningKey</c>.</summary>
    public const string IdentitySigningKey = "identity_signing_key";
}
