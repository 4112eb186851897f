namespace Edge.Proxy.Pipeline;

/// <summary>
/// Refuses a path that routes here as one thing and could reach the backend as another. Kestrel removes plain dot
/// segments and decodes every escape except <c>%2F</c>, and YARP forwards the path as it is; a backend that also splits
/// at <c>\</c> (IIS, some Windows and Java stacks) or decodes <c>%2F</c>/<c>%5C</c> before resolving dot segments (nginx
/// <c>merge_slashes</c>/normalisation, several frameworks) would turn <c>/orders/..\secure\admin</c> or
/// <c>/orders/..%2Fsecure%2Fadmin</c>, matched by the <c>orders</c> route, into <c>/secure/admin</c>, whose steps never ran.
/// Tomcat (and Jetty, Spring behind them) removes a <c>;</c> path parameter from each segment before resolving dot
/// segments, so <c>/orders/..;/secure/admin</c>, which Kestrel keeps as it is, reaches Tomcat as <c>/secure/admin</c>.
/// A backend that decodes overlong UTF-8 (<c>%C0%AE</c> for <c>.</c>, <c>%C0%AF</c> for <c>/</c>: old IIS, Tomcat, JBoss
/// and several CGI decoders) resolves <c>/orders/%C0%AE%C0%AE/secure</c>, which Kestrel cannot decode and forwards as it came.
/// An absolute-form target (<c>GET http://host/orders/..%2Fsecure/admin</c>) reaches the edge with its <c>%2F</c> decoded
/// and its <c>..</c> kept (Kestrel takes <c>Uri.LocalPath</c>), and the forwarder's own <c>Uri</c> resolves it: a plain
/// <c>.</c> or <c>..</c> segment, which Kestrel removes from every origin-form target, is refused too, and so is a NUL,
/// which Kestrel refuses in an origin-form target (<c>%00</c>) and keeps in an absolute-form one. The other control
/// characters (<c>%09</c>, <c>%0A</c>, <c>%0D</c>, <c>%7F</c>, <c>%C2%85</c>, …) Kestrel decodes in either form, and YARP
/// forwards them: behind a catch-all route, Spring's <c>trimTokens</c> and <c>strip()</c>-based routers read
/// <c>/admin%09/x</c> as <c>/admin/x</c>, and a regex router's <c>$</c> (Python, Ruby, PCRE) matches before a final
/// newline, so <c>/admin%0A</c> is its <c>/admin</c>.
/// </summary>
/// <remarks>
/// Only a <c>.</c> or <c>..</c> segment hidden that way is refused: an encoded slash inside a name
/// (<c>/projects/group%2Fproject</c>) and a path parameter on a name (<c>/app/page;jsessionid=1</c>) are forwarded
/// unchanged, as before. An overlong encoding is refused wherever it is: it is never valid UTF-8, and so is a control
/// character: no name needs one.
/// </remarks>
internal static class PathPolicy
{
    public const string ReasonCode = "path_invalid";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, ReasonCode, "Path invalid",
        "The path holds a '.' or '..' segment (left in an absolute-form target, or behind a backslash, an encoded slash or a ';' path parameter), an overlong UTF-8 escape or a control character (NUL, tab, CR, LF, DEL, ...); fullwidth and other compatibility forms of '.', '/' and '\\' count as those.");

    public static readonly EdgeDenial OtherRouteDenial = new(StatusCodes.Status400BadRequest, ReasonCode, "Path invalid",
        "Read as a backend may read it (without ';' path parameters, with '\\', %2F or %5C as '/', '//' as '/', without a name's leading spaces and trailing dots and spaces, ended at a decoded '?' or '#', fullwidth and other compatibility characters read as ASCII) the path belongs to another route.");

    /// <summary>Answered like a request no route takes: the asterisk-form target is about the server, not a route's resource.</summary>
    public static readonly EdgeDenial AsteriskFormDenial = new(StatusCodes.Status404NotFound, UnroutedRequests.NotFoundCode, "Not found",
        "OPTIONS * asks about the server in general and names no route's resource, so it is not forwarded.")
    {
        Reason = UnroutedRequests.NotFoundCode + ":asterisk_form",
    };

    /// <summary>
    /// A '#' in the request target: a fragment stays with the client (RFC 9110 section 4.2.4) and no request-target
    /// form holds one (RFC 9112 section 3.2). Kestrel and YARP do not refuse it, they change it: an absolute-form path
    /// loses it, every other '#' reaches the backend as %23, so the backend would serve a target the client never sent.
    /// Refused as Envoy does by default.
    /// </summary>
    public static readonly EdgeDenial FragmentDenial = new(StatusCodes.Status400BadRequest, "request_line_invalid", "Request line invalid",
        "The request target holds a '#'. A fragment is never sent to a server; send the target without it, or escape a literal '#' as %23.")
    {
        Reason = "request_line_invalid:fragment",
    };

    public static bool HasFragment(HttpContext context) =>
        context.Features[typeof(Microsoft.AspNetCore.Http.Features.IHttpRequestFeature)] is Microsoft.AspNetCore.Http.Features.IHttpRequestFeature request
        && request.RawTarget.Contains('#');

    /// <summary><c>OPTIONS *</c>: Kestrel gives it an empty path (every other target's path starts with '/').</summary>
    public static bool IsAsteriskForm(HttpContext context) =>
        string.IsNullOrEmpty(context.Request.Path.Value)
        && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget == "*";

    // '%', '\', ';' and the ASCII control characters (C0, DEL): an ASCII-only set keeps the scan vectorised. The C1
    // controls (U+0080-U+009F), the rest of what char.IsControl tests, are a second range scan.
    private static readonly System.Buffers.SearchValues<char> Unusual = System.Buffers.SearchValues.Create(
        "%\\;\u007F" + string.Concat(Enumerable.Range(0, 0x20).Select(static c => (char)c)));

    public static bool HidesDotSegment(string? path)
    {
        // Windows' best-fit conversion (IIS, PHP and CGI on Windows) and backends normalising to NFKC read a fullwidth
        // '．' as '.', '／' as '/', '＼' as '\' and '‥' as "..": /open/..／keys is their /keys. Kestrel decodes them and
        // YARP forwards them, so a non-ASCII path is judged in that form too.
        return !string.IsNullOrEmpty(path)
            && (Hides(path) || (!System.Text.Ascii.IsValid(path) && CompatibilityForm(path) is { } folded && Hides(folded)));
    }

    /// <summary>
    /// <paramref name="path"/> with the characters that Windows' best-fit conversion or NFKC turns into ASCII replaced by
    /// that ASCII (fullwidth forms, one/two/three dot leaders, small full stop and reverse solidus, division and fraction
    /// slashes, Kelvin sign, long s, Unicode spaces), or null when it has none. Written out because the edge runs with
    /// <c>InvariantGlobalization</c>, where <c>string.Normalize</c> leaves non-ASCII text as it is. The dotless
    /// <c>ı</c> and dotted <c>İ</c> are no compatibility forms, but a case-insensitive backend matches them to <c>i</c>
    /// as it matches the Kelvin sign and the long s to <c>k</c> and <c>s</c> (Python's <c>re.IGNORECASE</c>, Java's
    /// <c>equalsIgnoreCase</c>): <c>/admın/users</c> is their <c>/admin/users</c>. .NET's own comparisons do not.
    /// </summary>
    internal static string? CompatibilityForm(string path)
    {
        System.Text.StringBuilder? folded = null;
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            var (ascii, count) = c switch
            {
                >= '\uFF01' and <= '\uFF5E' => ((char)(c - 0xFEE0), 1),
                '\u2024' or '\uFE52' => ('.', 1),
                '\u2025' => ('.', 2),
                '\u2026' => ('.', 3),
                '\u2215' or '\u2044' => ('/', 1),
                '\uFE68' => ('\\', 1),
                '\u212A' => ('K', 1),
                '\u017F' => ('s', 1),
                '\u0131' => ('i', 1),
                '\u0130' => ('I', 1),
                > '\u007F' when char.IsWhiteSpace(c) => (' ', 1),
                _ => ('\0', 0),
            };
            if (count == 0)
            {
                folded?.Append(c);
                continue;
            }

            folded ??= new System.Text.StringBuilder(path.Length).Append(path, 0, i);
            folded.Append(ascii, count);
        }

        return folded?.ToString();
    }

    private static bool Hides(string path)
    {
        // The common path has no backslash, escape, ';', control character or segment starting with '.': vectorised scans.
        // Kestrel removes plain dot segments from an origin-form target, but not from an absolute-form one (GET
        // http://host/a/..%2Fb): there the path is Uri.LocalPath, whose %2F is decoded after Uri resolved the dot segments
        // it saw, so /open/..%2Fkeys arrives as /open/../keys, routes as /open/{**rest}, and the forwarder's Uri resolves it to /keys.
        if (path.AsSpan().IndexOfAny(Unusual) < 0 && path.AsSpan().IndexOfAnyInRange('\u0080', '\u009F') < 0
            && !path.Contains("/.", StringComparison.Ordinal))
        {
            return false;
        }

        var span = path.AsSpan();
        var start = 0;
        var i = 0;
        while (i <= span.Length)
        {
            // Kestrel refuses %00 in an origin-form target; an absolute-form one keeps it as a NUL in the path, and a
            // backend that ends the path there (C strings, old PHP and CGI) would read /admin%00/x, routed here as a name
            // of the catch-all route, as /admin. Kestrel decodes the other control characters in both forms.
            if (i < span.Length && (char.IsControl(span[i]) || IsOverlongEscape(span, i)))
            {
                return true;
            }

            var separator = i == span.Length || span[i] is '/' or '\\' ? 1 : IsEncodedSeparator(span, i) ? 3 : 0;
            if (separator == 0)
            {
                i++;
                continue;
            }

            if (IsDotSegment(WithoutPathParameter(span[start..i])))
            {
                return true;
            }

            i += separator;
            start = i;
        }

        return false;
    }

    private static bool IsEncodedSeparator(ReadOnlySpan<char> path, int i) =>
        path[i] == '%' && i + 2 < path.Length
        && (path.Slice(i + 1, 2).Equals("2F", StringComparison.OrdinalIgnoreCase) || path.Slice(i + 1, 2).Equals("5C", StringComparison.OrdinalIgnoreCase));

    // Tomcat's '..;jsessionid=x' is its '..'.
    private static ReadOnlySpan<char> WithoutPathParameter(ReadOnlySpan<char> segment)
    {
        var semicolon = segment.IndexOf(';');
        return semicolon < 0 ? segment : segment[..semicolon];
    }

    // Kestrel has decoded %2E already; an escaped dot is checked anyway in case a host in front left it encoded.
    private static bool IsDotSegment(ReadOnlySpan<char> segment) =>
        segment is "." or ".."
        || segment.Equals("%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals("%2E%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals(".%2E", StringComparison.OrdinalIgnoreCase)
        || segment.Equals("%2E.", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// An escaped lead byte that can only start an overlong sequence (C0, C1 followed by an escaped continuation byte),
    /// or E0 followed by 80-9F, or F0 followed by 80-8F: a longer encoding of a code point than UTF-8 allows.
    /// Kestrel leaves such escapes undecoded, so the path still holds them as text.
    /// </summary>
    private static bool IsOverlongEscape(ReadOnlySpan<char> path, int i)
    {
        if (path[i] != '%' || !TryHexByte(path, i, out var lead) || !TryHexByte(path, i + 3, out var next))
        {
            return false;
        }

        return lead switch
        {
            0xC0 or 0xC1 => next is >= 0x80 and <= 0xBF,
            0xE0 => next is >= 0x80 and <= 0x9F,
            0xF0 => next is >= 0x80 and <= 0x8F,
            _ => false,
        };
    }

    private static bool TryHexByte(ReadOnlySpan<char> path, int i, out int value)
    {
        value = 0;
        if (i + 2 >= path.Length || path[i] != '%')
        {
            return false;
        }

        var high = HexValue(path[i + 1]);
        var low = HexValue(path[i + 2]);
        value = (high << 4) | low;
        return high >= 0 && low >= 0;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
