namespace Edge.Proxy.Pipeline;

/// <summary>
/// Request body framing that two parsers may read differently, refused with 400 <c>request_framing_invalid</c> before any
/// step runs and before anything is forwarded. Kestrel already refuses a final coding other than <c>chunked</c>, a repeated
/// or comma-listed <c>Content-Length</c>, obs-fold and a space before the colon; it accepts, and the edge refuses:
/// <list type="bullet">
/// <item><c>Transfer-Encoding: chunked</c> with <c>Content-Length</c>: Kestrel reads the chunks, drops the length and
/// hands it on as <c>X-Content-Length</c>; a front proxy or backend that reads the length sees another request boundary
/// (the CL.TE / TE.CL smuggling pair). Envoy refuses these by default; RFC 9112 §6.1 allows it.</item>
/// <item>any other <c>Transfer-Encoding</c> than exactly one <c>chunked</c> (<c>identity, chunked</c>,
/// <c>gzip, chunked</c>, two header lines): parsers disagree on such lists, and the forwarder would re-chunk the body and
/// drop the other codings, so the backend would get gzip bytes it was not told about.</item>
/// <item><c>Transfer-Encoding</c> on an HTTP/1.0 request: RFC 9112 §6.1 says to treat its framing as faulty (an HTTP/1.0
/// parser reads no body there, and the chunks as the next request).</item>
/// <item><c>Transfer-Encoding</c> on an HTTP/2 (or HTTP/3) request: a connection-specific field, which makes the request
/// malformed (RFC 9113 §8.2.2); Kestrel accepts it and reads the DATA frames, and a downgrading hop could honour it.</item>
/// </list>
/// Only a request with a <c>Transfer-Encoding</c> header costs more than that one header lookup. A client's own
/// <c>X-Content-Length</c> on a chunked request is refused too: the edge cannot tell it from the length Kestrel dropped.
/// </summary>
internal static class RequestFraming
{
    public const string ReasonCode = "request_framing_invalid";

    private const string Title = "Request framing invalid";

    /// <summary>The header name Kestrel gives a <c>Content-Length</c> it dropped because <c>Transfer-Encoding</c> was also sent.</summary>
    private const string DroppedContentLengthHeader = "X-Content-Length";

    // The body was not read: the connection must not be reused, or its unread bytes would be parsed as the next request.
    private static readonly Dictionary<string, string> CloseConnection = new() { ["Connection"] = "close" };

    public static readonly EdgeDenial LengthAndChunked = new(StatusCodes.Status400BadRequest, ReasonCode, Title,
        "The request has both Transfer-Encoding and Content-Length; send one of them.")
    {
        Reason = ReasonCode + ":length_and_chunked",
        Headers = CloseConnection,
    };

    public static readonly EdgeDenial TransferCoding = new(StatusCodes.Status400BadRequest, ReasonCode, Title,
        "The only Transfer-Encoding the edge accepts is a single 'chunked'.")
    {
        Reason = ReasonCode + ":transfer_coding",
        Headers = CloseConnection,
    };

    public static readonly EdgeDenial Http10TransferEncoding = new(StatusCodes.Status400BadRequest, ReasonCode, Title,
        "An HTTP/1.0 request cannot use Transfer-Encoding; send Content-Length or use HTTP/1.1.")
    {
        Reason = ReasonCode + ":http10_transfer_encoding",
        Headers = CloseConnection,
    };

    public static readonly EdgeDenial Http2TransferEncoding = new(StatusCodes.Status400BadRequest, ReasonCode, Title,
        "Transfer-Encoding is not allowed in HTTP/2 or HTTP/3 requests.")
    {
        Reason = ReasonCode + ":http2_transfer_encoding",
    };

    /// <summary>The refusal for <paramref name="request"/>'s framing, or null when it is unambiguous (every request without <c>Transfer-Encoding</c>).</summary>
    public static EdgeDenial? Check(HttpRequest request)
    {
        var headers = request.Headers;
        var transferEncoding = headers.TransferEncoding;
        if (transferEncoding.Count == 0)
        {
            return null;
        }

        if (!HttpProtocol.IsHttp11(request.Protocol))
        {
            return HttpProtocol.IsHttp10(request.Protocol) ? Http10TransferEncoding : Http2TransferEncoding;
        }

        if (transferEncoding.Count != 1 || !string.Equals(transferEncoding[0], "chunked", StringComparison.OrdinalIgnoreCase))
        {
            return TransferCoding;
        }

        return headers.ContentLength is not null || headers.ContainsKey(DroppedContentLengthHeader) ? LengthAndChunked : null;
    }
}
