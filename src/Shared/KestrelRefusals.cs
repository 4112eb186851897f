using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;

namespace Edge.Shared;

/// <summary>
/// What Kestrel's parser refused, as the stable code a client branches on and the reason a record keeps. <see cref="Status"/>
/// is the status of the edge's answer; <see cref="KestrelStatus"/> the one Kestrel writes, which a connection whose
/// answer cannot be replaced (TLS terminated by Kestrel) still gets.
/// </summary>
internal readonly record struct KestrelRefusal(int Status, string Code, string Kind, string Title, string Detail)
{
    public string Reason => Code + ":" + Kind;

    public int KestrelStatus { get; init; } = Status;
}

/// <summary>
/// Requests Kestrel's HTTP/1.x parser refuses before any middleware runs (a bad request line, a NUL in a header value, a
/// bad <c>Host</c>, a repeated <c>Content-Length</c>, a request line or header block over its limits, headers sent too
/// slowly) get Kestrel's own empty 4xx and a closed connection. Kestrel reports each one on the host's
/// <c>DiagnosticListener</c> (<see cref="EventName"/>) before it writes that answer, with the request's features; a
/// host that subscribes can answer it with a problem+json body through the <see cref="KestrelRefusalWriter"/> that
/// <see cref="AddWriters"/> puts under every connection. Shared by the edge (which also audits each refusal) and the
/// audit writer.
/// </summary>
internal static class KestrelRefusals
{
    public const string EventName = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    public static readonly Predicate<string> IsEnabled = static name => name == EventName;

    /// <summary>
    /// Puts a <see cref="KestrelRefusalWriter"/> under every connection of every endpoint. Kestrel adds its own TLS after
    /// the endpoint defaults, so on a TLS endpoint the writer sits outside the encryption and is never armed
    /// (<see cref="WriterFor"/>).
    /// </summary>
    public static void AddWriters(KestrelServerOptions options) => AddWriters(options, null);

    /// <param name="options">Kestrel's options.</param>
    /// <param name="endpointDefaults">
    /// More endpoint defaults of the host's own: Kestrel keeps one endpoint-defaults action (a second call replaces the
    /// first), so they run in this one.
    /// </param>
    public static void AddWriters(KestrelServerOptions options, Action<ListenOptions>? endpointDefaults) =>
        options.ConfigureEndpointDefaults(listen =>
        {
            endpointDefaults?.Invoke(listen);
            listen.Use(static next => connection =>
            {
                var writer = new KestrelRefusalWriter(connection.Transport.Output);
                connection.Features.Set(writer);
                connection.Transport = new DuplexPipe(connection.Transport.Input, writer);
                return next(connection);
            });
        });

    /// <summary>
    /// The refusal an event reports, when its answer has not started; false for any other event and for a request whose
    /// response the application already began.
    /// </summary>
    public static bool TryRead(KeyValuePair<string, object?> value, out IFeatureCollection features, out KestrelRefusal refusal, out IHttpRequestFeature parsed)
    {
        features = null!;
        refusal = default;
        parsed = null!;
        if (value.Key != EventName
            || value.Value is not IFeatureCollection collection
            || collection[typeof(IBadRequestExceptionFeature)] is not IBadRequestExceptionFeature { Error: Microsoft.AspNetCore.Http.BadHttpRequestException error }
            || collection[typeof(IHttpResponseFeature)] is not IHttpResponseFeature { HasStarted: false }
            || collection[typeof(IHttpRequestFeature)] is not IHttpRequestFeature request)
        {
            return false;
        }

        features = collection;
        parsed = request;
        refusal = Classify(error.StatusCode, error.Message);
        return true;
    }

    /// <summary>
    /// The connection's writer when Kestrel's answer can be replaced: a plaintext HTTP/1.x connection (an HTTP/2 stream's
    /// answer is a frame among others; a TLS connection's bytes are encrypted where the writer sees them).
    /// </summary>
    public static KestrelRefusalWriter? WriterFor(IFeatureCollection features, IHttpRequestFeature parsed) =>
        features[typeof(KestrelRefusalWriter)] is KestrelRefusalWriter writer
        && features[typeof(ITlsConnectionFeature)] is null
        && !HttpProtocol.IsHttp2(parsed.Protocol) && !HttpProtocol.IsHttp3(parsed.Protocol)
            ? writer
            : null;

    /// <summary>
    /// The code for a refusal, from its status and Kestrel's message (the rejection reason is internal to Kestrel; its
    /// messages are fixed English text, never copied into an answer or a record).
    /// </summary>
    public static KestrelRefusal Classify(int status, string message)
    {
        var (code, kind, title, detail) = status switch
        {
            StatusCodes.Status400BadRequest => Classify400(message),
            StatusCodes.Status405MethodNotAllowed => ("method_not_allowed", "target_form", "Method not allowed",
                "This request target form needs another method (CONNECT for an authority, OPTIONS for *)."),
            StatusCodes.Status408RequestTimeout => ("request_timeout", "headers", "Request timeout",
                "The request headers did not arrive in time."),
            StatusCodes.Status411LengthRequired => ("request_framing_invalid", "length_required", "Length required",
                "A request with a body needs a Content-Length or chunked Transfer-Encoding."),
            StatusCodes.Status413PayloadTooLarge => ("body_too_large", "limit", "Body too large",
                "The request body is larger than this server accepts."),
            StatusCodes.Status414UriTooLong => ("request_line_too_long", "limit", "Request line too long",
                "The request line is longer than this server accepts."),
            StatusCodes.Status431RequestHeaderFieldsTooLarge => ("headers_too_large",
                message.StartsWith("Request contains too many headers", StringComparison.Ordinal) ? "count" : "size",
                "Headers too large", "The request has more or larger headers than this server accepts."),
            StatusCodes.Status505HttpVersionNotsupported => ("http_version_unsupported", "version", "HTTP version not supported",
                "This server speaks HTTP/1.0, HTTP/1.1 and HTTP/2."),
            _ => ("request_invalid", "parser", "Request invalid", "The request could not be parsed."),
        };

        // A request line whose version Kestrel does not parse ("HTTP/1.2", "HTTP/2.0" on an HTTP/1.x connection) is the
        // client's protocol error, answered 400 like every other line Kestrel cannot parse (Envoy answers it 400 too, and
        // RFC 9112 §2.3 has a server read an unknown 1.x minor version as 1.1 rather than refuse it with 505, which RFC 9110
        // §15.6.6 keeps for a major version). As a 505 it was a 5xx in the answer, the record and edge_requests_total
        // that any client could send at will, and the edge's 5xx alert fired on an edge that had failed nobody.
        var answered = status == StatusCodes.Status505HttpVersionNotsupported ? StatusCodes.Status400BadRequest : status;
        return new KestrelRefusal(answered, code, kind, title, detail) { KestrelStatus = status };
    }

    private static (string Code, string Kind, string Title, string Detail) Classify400(string message)
    {
        if (message.StartsWith("Invalid request line", StringComparison.Ordinal))
        {
            return ("request_line_invalid", "syntax", "Request line invalid", "The request line is malformed.");
        }

        if (message.StartsWith("Invalid request target", StringComparison.Ordinal))
        {
            return ("request_line_invalid", "target", "Request line invalid", "The request target is malformed.");
        }

        if (message.StartsWith("Invalid Host header", StringComparison.Ordinal)
            || message.StartsWith("Request is missing Host header", StringComparison.Ordinal)
            || message.StartsWith("Multiple Host headers", StringComparison.Ordinal))
        {
            return ("host_invalid", "host", "Host invalid",
                "The request needs exactly one valid Host header, matching an absolute-form target's authority.");
        }

        if (message.StartsWith("Invalid content length", StringComparison.Ordinal)
            || message.StartsWith("Multiple Content-Length headers", StringComparison.Ordinal))
        {
            return ("request_framing_invalid", "content_length", "Request framing invalid", "The Content-Length header is invalid.");
        }

        if (message.StartsWith("The message body length cannot be determined", StringComparison.Ordinal))
        {
            return ("request_framing_invalid", "transfer_coding", "Request framing invalid", "The final transfer coding must be chunked.");
        }

        if (message.EndsWith("request contains no Content-Length header.", StringComparison.Ordinal))
        {
            return ("request_framing_invalid", "length_required", "Request framing invalid", "An HTTP/1.0 request with a body needs a Content-Length.");
        }

        if (message.StartsWith("Invalid request header", StringComparison.Ordinal)
            || message.StartsWith("Invalid characters in header name", StringComparison.Ordinal)
            || message.StartsWith("Malformed request", StringComparison.Ordinal))
        {
            return ("header_invalid", "syntax", "Header invalid",
                "A header line is malformed (a control character in a value, a space before the colon, a folded line or a bare LF).");
        }

        return ("request_invalid", "parser", "Request invalid", "The request could not be parsed.");
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

/// <summary>
/// The connection's output as Kestrel sees it: passes every write through until a refusal arms it with an answer, then
/// holds what Kestrel writes next (its empty refusal: status line and headers, nothing after, as Kestrel closes the
/// connection) and sends it on with the answer's headers and problem+json body once the answer's task (the edge's audit
/// record) has completed.
/// </summary>
internal sealed class KestrelRefusalWriter(PipeWriter inner) : PipeWriter
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();

    private ArrayBufferWriter<byte>? _held;
    private Answer? _answer;

    /// <param name="Headers">Header lines to add, each ending in CRLF (<c>Content-Type</c> and <c>Content-Length</c> are added here).</param>
    /// <param name="Sending">
    /// Awaited before anything goes out, with whether this answer replaces Kestrel's (true) or Kestrel wrote something
    /// else, passed on unchanged (false): for a connection that opened with the HTTP/2 preface, an HTTP/2 GOAWAY
    /// (HTTP_1_1_REQUIRED) instead of its 505. A record made before that is known would claim an answer never sent.
    /// </param>
    /// <param name="Status">
    /// The answer's status when it differs from the one in Kestrel's status line, which is then replaced; null keeps Kestrel's.
    /// </param>
    internal sealed record Answer(ReadOnlyMemory<byte> Headers, ReadOnlyMemory<byte> Body, bool IsHead, Func<bool, Task> Sending, int? Status = null);

    internal void Arm(Answer answer)
    {
        _answer = answer;
        _held = new ArrayBufferWriter<byte>(256);
    }

    public override void Advance(int bytes)
    {
        if (_held is { } held)
        {
            held.Advance(bytes);
        }
        else
        {
            inner.Advance(bytes);
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _held is { } held ? held.GetMemory(sizeHint) : inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => _held is { } held ? held.GetSpan(sizeHint) : inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        _held is null ? inner.FlushAsync(cancellationToken) : FlushAnswerAsync(cancellationToken);

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        _held is null ? inner.WriteAsync(source, cancellationToken) : base.WriteAsync(source, cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => _held is { } held ? held.WrittenCount : inner.UnflushedBytes;

    private async ValueTask<FlushResult> FlushAnswerAsync(CancellationToken cancellationToken)
    {
        var held = _held!;
        var answer = _answer!;
        _held = null;
        _answer = null;

        try
        {
            await answer.Sending(IsOneHeaderBlock(held.WrittenSpan));
        }
        catch (Exception)
        {
            // Whoever made the task reports its failure; the answer goes out either way.
        }

        Rewrite(held.WrittenSpan, answer, inner);
        return await inner.FlushAsync(cancellationToken);
    }

    /// <summary>Whether Kestrel wrote exactly one header block, the only thing <see cref="Rewrite"/> replaces.</summary>
    internal static bool IsOneHeaderBlock(ReadOnlySpan<byte> kestrel)
    {
        var end = kestrel.IndexOf(HeaderEnd);
        return end >= 0 && end + HeaderEnd.Length == kestrel.Length;
    }

    /// <summary>
    /// Kestrel's status line and headers without its <c>Content-Length: 0</c>, then the answer's headers and body. Bytes
    /// that are not exactly one header block are passed on unchanged.
    /// </summary>
    internal static void Rewrite(ReadOnlySpan<byte> kestrel, Answer answer, IBufferWriter<byte> output)
    {
        if (!IsOneHeaderBlock(kestrel))
        {
            output.Write(kestrel);
            return;
        }

        var lines = kestrel[..kestrel.IndexOf(HeaderEnd)];
        var first = true;
        foreach (var range in lines.Split("\r\n"u8))
        {
            var line = lines[range];
            if (!first && line.StartsWith("Content-Length:"u8))
            {
                continue;
            }

            if (first && answer.Status is { } status)
            {
                // Kestrel writes HTTP/1.1 on every HTTP/1.x answer.
                output.Write(System.Text.Encoding.ASCII.GetBytes(
                    "HTTP/1.1 " + status.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + ReasonPhrases.GetReasonPhrase(status) + "\r\n"));
                first = false;
                continue;
            }

            output.Write(line);
            output.Write("\r\n"u8);
            first = false;
        }

        output.Write("Content-Type: application/problem+json\r\nCache-Control: no-store\r\n"u8);
        output.Write(answer.Headers.Span);
        output.Write("Content-Length: "u8);
        var digits = output.GetSpan(11);
        answer.Body.Length.TryFormat(digits, out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
        output.Advance(written);
        output.Write("\r\n\r\n"u8);
        if (!answer.IsHead)
        {
            output.Write(answer.Body.Span);
        }
    }
}
