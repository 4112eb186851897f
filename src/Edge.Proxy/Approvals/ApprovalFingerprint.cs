using System.Security.Cryptography;
using System.Text;

namespace Edge.Proxy.Approvals;

/// <summary>
/// The hash that binds an approval to the exact request: policy, route, method, path, query, tenant, requester, the
/// body's SHA-256 and the Content-Type and Content-Encoding that say how the backend reads those bytes. Each field is length-prefixed, so no two different requests share the canonical text.
/// </summary>
internal static class ApprovalFingerprint
{
    public const string ApiPrefix = "/_edge/approvals";

    public static string UrlOf(string id) => ApiPrefix + "/" + id;

    public static string BodySha256(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    /// <param name="contentType">The request's Content-Type and Content-Encoding as sent (<see cref="ContentHeaders"/>): the
    /// same body bytes read as JSON or as a form, or in another charset or encoding, are another request to the backend.</param>
    public static string Compute(string policy, string route, string method, string path, string query, string? tenant, string requester, string bodySha256, string contentType = "")
    {
        var canonical = new StringBuilder(256);
        foreach (var field in (ReadOnlySpan<string?>)[policy, route, method.ToUpperInvariant(), path, query, tenant ?? "", requester, bodySha256, contentType])
        {
            canonical.Append(field!.Length).Append(':').Append(field).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())));
    }

    /// <summary>Every Content-Type and Content-Encoding value as sent, in order; a header sent twice counts twice.</summary>
    public static string ContentHeaders(IHeaderDictionary headers) =>
        "type=" + string.Join("\n", (IEnumerable<string?>)headers.ContentType) + "\nencoding=" + string.Join("\n", (IEnumerable<string?>)headers.ContentEncoding);
}
