using System.Text;
using Microsoft.Net.Http.Headers;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// A form-encoded body (<c>application/x-www-form-urlencoded</c>), which PHP, Rails, Laravel, Symfony and ASP.NET Core
/// parse into request parameters without the handler asking, so a parameter in it acts like one in the query.
/// </summary>
internal static class FormBody
{
    /// <summary>
    /// True for any content type naming the form media type. A substring test, not a parse: a backend that takes a
    /// malformed <c>Content-Type</c> for a form must not see a body the edge did not read as one.
    /// </summary>
    public static bool IsForm(string? contentType) =>
        contentType is not null && contentType.Contains("x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The body as text the way backends decode it: as UTF-8 (PHP and Rails read the bytes, whatever the charset), and a
    /// second time with the declared charset when it is another one (ASP.NET Core's form reader decodes with it).
    /// </summary>
    public static FormText Decode(string? contentType, ReadOnlySpan<byte> body)
    {
        // A byte order mark is dropped, as ASP.NET Core's reader does: "\uFEFFaccess_token" is its access_token.
        var bytes = Encoding.UTF8.GetString(body).TrimStart('\uFEFF');
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.Encoding is not { } declared
            || declared.CodePage is 65000 or 65001 or 20127 or 28591)
        {
            // Absent, UTF-7 (which ASP.NET Core reads as UTF-8), UTF-8 or an ASCII superset the name test reads alike.
            return new FormText(bytes, null);
        }

        return new FormText(bytes, declared.GetString(body).TrimStart('\uFEFF'));
    }
}

/// <summary>A form body as text: as UTF-8, and with the declared charset when that is another one (<see cref="FormBody.Decode"/>).</summary>
internal sealed record FormText(string Bytes, string? Declared);
