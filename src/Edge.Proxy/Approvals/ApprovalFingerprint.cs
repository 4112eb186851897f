using System.Security.Cryptography;
using System.Text;

namespace Edge.Proxy.Approvals;

/// <summary>
/// The hash that binds an approval to the exact request: policy, route, method, path, query, tenant, requester and the
/// body's SHA-256. Each field is length-prefixed, so no two different requests share the canonical text.
/// </summary>
internal static class ApprovalFingerprint
{
    public const string ApiPrefix = "/_edge/approvals";

    public static string UrlOf(string id) => ApiPrefix + "/" + id;

    public static string BodySha256(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    public static string Compute(string policy, string route, string method, string path, string query, string? tenant, string requester, string bodySha256)
    {
        var canonical = new StringBuilder(256);
        foreach (var field in (ReadOnlySpan<string?>)[policy, route, method.ToUpperInvariant(), path, query, tenant ?? "", requester, bodySha256])
        {
            canonical.Append(field!.Length).Append(':').Append(field).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())));
    }
}
