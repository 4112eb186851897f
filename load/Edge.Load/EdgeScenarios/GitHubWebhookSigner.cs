using System.Security.Cryptography;

namespace Edge.Load.EdgeScenarios;

/// <summary>GitHub's <c>X-Hub-Signature-256</c>: <c>sha256=</c> + lowercase hex of HMAC-SHA256 over the raw body, key = secret as UTF-8.</summary>
internal static class GitHubWebhookSigner
{
    public static string Sign(byte[] key, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(key, body));
}
