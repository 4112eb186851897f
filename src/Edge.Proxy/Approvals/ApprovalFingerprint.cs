using System.Security.Cryptography;
using System.Text;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Primitives;

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
    /// <param name="boundHeaders">The policy's <c>BindHeaders</c> as sent (<see cref="BoundHeaders"/>); empty without any.</param>
    public static string Compute(string policy, string route, string method, string path, string query, string? tenant, string requester, string bodySha256, string contentType = "", string boundHeaders = "")
    {
        var canonical = new StringBuilder(256);
        // The bound headers are a field only when configured, so the hash of every approval made without them is unchanged.
        ReadOnlySpan<string?> fields = boundHeaders.Length == 0
            ? [policy, route, method.ToUpperInvariant(), path, query, tenant ?? "", requester, bodySha256, contentType]
            : [policy, route, method.ToUpperInvariant(), path, query, tenant ?? "", requester, bodySha256, contentType, boundHeaders];
        foreach (var field in fields)
        {
            canonical.Append(field!.Length).Append(':').Append(field).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())));
    }

    /// <summary>
    /// Each named header's values as sent, in the policy's order, with the values of its '_' spellings (which a CGI-style
    /// backend reads as the same variable) in name order: the count of values, then each length-prefixed, so an absent
    /// header, an empty one and one sent twice differ.
    /// </summary>
    public static string BoundHeaders(IHeaderDictionary headers, IReadOnlyList<string> names)
    {
        if (names.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var name in names)
        {
            text.Append(name.ToLowerInvariant()).Append('\n');
            // Lower-cased: a header's case is not the client's to vary the request by (HTTP/2 sends it lower-case anyway).
            var spellings = new List<KeyValuePair<string, StringValues>>();
            foreach (var header in headers)
            {
                if (HeaderName.EqualsName(header.Key, name))
                {
                    spellings.Add(new(header.Key.ToLowerInvariant(), header.Value));
                }
            }

            spellings.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
            foreach (var (spelling, values) in spellings)
            {
                text.Append(spelling.Length).Append(':').Append(spelling).Append(':').Append(values.Count);
                foreach (var value in values)
                {
                    text.Append(':').Append(value?.Length ?? 0).Append(':').Append(value);
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>Every Content-Type and Content-Encoding value as sent, in order; a header sent twice counts twice.</summary>
    public static string ContentHeaders(IHeaderDictionary headers) =>
        "type=" + string.Join("\n", (IEnumerable<string?>)headers.ContentType) + "\nencoding=" + string.Join("\n", (IEnumerable<string?>)headers.ContentEncoding);
}
