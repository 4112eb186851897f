using Microsoft.Net.Http.Headers;

namespace Edge.AuditWriter.Api;

/// <summary>The charset a request body declares, for the endpoints that read it as UTF-8 (RFC 8259 §8.1).</summary>
internal static class RequestCharset
{
    /// <summary>
    /// True when <paramref name="mediaType"/> declares no charset or UTF-8 (any case, quoted or not): a body in another
    /// charset would be read as different text than its sender meant.
    /// </summary>
    public static bool IsUtf8OrAbsent(MediaTypeHeaderValue mediaType) =>
        mediaType.Charset.Length == 0 || HeaderUtilities.RemoveQuotes(mediaType.Charset).Equals("utf-8", StringComparison.OrdinalIgnoreCase);
}
