using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Primitives;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Request header values with a character RFC 9110 does not allow there (a control character other than tab) or with
/// bytes outside ASCII (obs-text), refused with 400 <c>header_invalid</c> before any step runs and before anything is
/// forwarded. Kestrel's own decoder accepted valid UTF-8 and control characters other than NUL, CR and LF, and refused
/// any other byte with a bare 400 (no problem+json, no record); the forwarder's HttpClient then refused to send the
/// UTF-8 ones, so the client got <c>502 backend_unavailable</c> for its own header and the record blamed the backend,
/// while the control characters reached the backend. Kestrel now decodes every header value as Latin-1
/// (<see cref="AddTo"/>: one char per byte, nothing refused or changed) and the edge decides here, with one answer and
/// one record for all of them. Never forwarded: a legacy backend's decoder (UTF-8, Latin-1 or a C library's) could read
/// another value than the one the steps checked.
/// </summary>
internal static class HeaderValues
{
    public const string ReasonCode = "header_invalid";

    public static readonly EdgeDenial Denial = new(StatusCodes.Status400BadRequest, ReasonCode, "Header invalid",
        "Request header values may hold visible ASCII characters, spaces and tabs only, and neither start nor end with a space or tab; send other text encoded (RFC 8187 or percent-encoding).")
    {
        Reason = ReasonCode + ":character",
    };

    // RFC 9110 §5.5 field-vchar (VCHAR), SP and HTAB; obs-text is left out on purpose.
    private static readonly SearchValues<char> Allowed = SearchValues.Create("\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>
    /// Makes Kestrel hand every request header value to the edge as Latin-1 instead of refusing non-ASCII bytes itself,
    /// and write response header values as Latin-1: the forwarder's HttpClient reads a backend's header bytes as Latin-1,
    /// so a legacy backend's raw UTF-8 (a <c>Content-Disposition</c> file name) reaches the client byte for byte, where
    /// Kestrel's ASCII-only writer turned the whole response into a 502.
    /// </summary>
    public static void AddTo(WebApplicationBuilder builder) =>
        builder.Services.Configure<KestrelServerOptions>(static options =>
        {
            Edge.Shared.Latin1RequestHeaders.Use(options);
            options.ResponseHeaderEncodingSelector = static _ => Encoding.Latin1;
        });

    /// <summary>
    /// True when every value holds only characters a field value allows (vectorised; one scan per value) and does not
    /// start or end with a space or tab.
    /// </summary>
    public static bool AreValid(StringValues values)
    {
        if (values.Count == 1)
        {
            return IsValid(values[0]);
        }

        foreach (var value in values)
        {
            if (!IsValid(value))
            {
                return false;
            }
        }

        return true;
    }

    // HTTP/1.1's parser strips the whitespace around a value; HPACK and QPACK carry it, and RFC 9113 §8.2.1 makes such a
    // request malformed. Left in, a step reads " key" where the backend's HTTP/1.1 parser reads "key".
    private static bool IsValid(string? value) =>
        value is not { Length: > 0 } text || (!text.AsSpan().ContainsAnyExcept(Allowed) && text[0] is not (' ' or '\t') && text[^1] is not (' ' or '\t'));

    /// <summary>The refusal for a request with a header value that is not <see cref="AreValid"/>, or null.</summary>
    public static EdgeDenial? Check(IHeaderDictionary headers)
    {
        foreach (var header in headers)
        {
            if (!AreValid(header.Value))
            {
                return Denial;
            }
        }

        return null;
    }
}
