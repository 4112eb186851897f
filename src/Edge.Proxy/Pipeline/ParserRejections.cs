using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Edge.Proxy.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Requests Kestrel's HTTP/1.x parser refuses before any middleware runs (a bad request line, a NUL in a header value, a
/// bad <c>Host</c>, a repeated <c>Content-Length</c>, a request line or header block over its limits, headers sent too
/// slowly): Kestrel answers those itself with an empty 4xx and closes the connection. The edge audits each one (no route,
/// step <see cref="EdgeRequestMiddleware.EdgeStepName"/>, deny, a stable reason code) and, on a plain HTTP/1.x connection,
/// turns Kestrel's empty answer into the same problem+json every other refusal gets, with a request id the record
/// carries.
/// </summary>
/// <remarks>
/// Kestrel reports each refusal on its <see cref="DiagnosticListener"/> (event <see cref="EventName"/>) before it writes
/// the answer, with the request's features. <see cref="AddTo"/> puts a <see cref="ParserRejectionWriter"/> under every
/// plaintext connection; a refusal arms it, and it rewrites the bytes Kestrel writes next (its empty answer) once the
/// record is written. Behind Kestrel's own TLS the writer sits outside the encryption (Kestrel adds TLS after endpoint
/// defaults), so there the answer stays Kestrel's and only the record is written; HTTP/2 streams the same.
/// </remarks>
internal sealed partial class ParserRejections(ClientAddressResolver clientAddresses, IAuditSink audit, EdgeMetrics metrics, TimeProvider time, ILogger<ParserRejections> logger)
    : IObserver<KeyValuePair<string, object?>>
{
    public const string EventName = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    public static readonly Predicate<string> IsEnabled = static name => name == EventName;

    /// <summary>Puts a <see cref="ParserRejectionWriter"/> under every connection of every endpoint.</summary>
    public static void AddTo(WebApplicationBuilder builder) =>
        builder.Services.Configure<KestrelServerOptions>(static options =>
            options.ConfigureEndpointDefaults(static listen => listen.Use(static next => connection =>
            {
                var writer = new ParserRejectionWriter(connection.Transport.Output);
                connection.Features.Set(writer);
                connection.Transport = new DuplexPipe(connection.Transport.Input, writer);
                return next(connection);
            })));

    /// <summary>Subscribes to the host's listener for the application's lifetime.</summary>
    public static void Subscribe(WebApplication app)
    {
        var subscription = app.Services.GetRequiredService<DiagnosticListener>()
            .Subscribe(app.Services.GetRequiredService<ParserRejections>(), IsEnabled);
        app.Lifetime.ApplicationStopped.Register(subscription.Dispose);
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key == EventName && value.Value is IFeatureCollection features)
        {
            try
            {
                Reject(features);
            }
            catch (Exception exception)
            {
                // Kestrel's own answer still goes out; only the record and the problem body are lost.
                Log.RejectionNotRecorded(logger, exception);
            }
        }
    }

    public void OnError(Exception error)
    {
    }

    public void OnCompleted()
    {
    }

    private void Reject(IFeatureCollection features)
    {
        // A request the edge's middleware took (a body Kestrel refused mid-read) has its own record and answer.
        if (features[typeof(EdgeRequestFeature)] is not null
            || features[typeof(IBadRequestExceptionFeature)] is not IBadRequestExceptionFeature { Error: Microsoft.AspNetCore.Http.BadHttpRequestException error }
            || features[typeof(IHttpResponseFeature)] is not IHttpResponseFeature { HasStarted: false }
            || features[typeof(IHttpRequestFeature)] is not IHttpRequestFeature parsed)
        {
            return;
        }

        var denial = Classify(error.StatusCode, error.Message);
        var startedAt = time.GetUtcNow();
        var requestId = RequestIds.NewId(startedAt);
        var method = string.IsNullOrEmpty(parsed.Method) ? null : parsed.Method;
        var path = string.IsNullOrEmpty(parsed.Path) ? null : parsed.Path;

        var writer = features[typeof(ParserRejectionWriter)] as ParserRejectionWriter;
        ArrayBufferWriter<byte>? body = null;
        if (writer is not null && features[typeof(ITlsConnectionFeature)] is null
            && !HttpProtocol.IsHttp2(parsed.Protocol) && !HttpProtocol.IsHttp3(parsed.Protocol))
        {
            body = new ArrayBufferWriter<byte>(256);
            ProblemDetailsWriter.Write(body, denial.Status, denial.Code, denial.Title, denial.Detail, path, requestId);
        }

        // What the record is built from: what was parsed before the refusal, on a context of its own (Kestrel's features
        // are the connection's, reused by its next request).
        var context = new DefaultHttpContext();
        context.Request.Method = method ?? "";
        context.Request.Path = path is null ? PathString.Empty : new PathString(path);
        context.Request.Protocol = parsed.Protocol;
        context.Connection.RemoteIpAddress = (features[typeof(IHttpConnectionFeature)] as IHttpConnectionFeature)?.RemoteIpAddress;
        if (parsed.Headers.TryGetValue(ForwardingHeaders.XForwardedFor, out var forwardedFor))
        {
            context.Request.Headers[ForwardingHeaders.XForwardedFor] = forwardedFor;
        }

        context.Response.StatusCode = denial.Status;
        context.Response.ContentLength = body?.WrittenCount ?? 0;
        var request = new EdgeRequestFeature
        {
            RequestId = requestId,
            RouteId = null,
            StartedAt = startedAt,
            ClientIp = ClientAddressResolver.Format(context, clientAddresses.Resolve(context)),
        };
        context.SetFeature(request);
        request.Deny(EdgeRequestMiddleware.EdgeStepName, denial.Reason ?? denial.Code);
        metrics.Request("", "deny", denial.Status);

        var recorded = audit.RecordAsync(context, request).AsTask();
        if (body is not null)
        {
            writer!.Arm(new ParserRejectionWriter.Answer(requestId, body.WrittenMemory, HttpMethods.IsHead(context.Request.Method), recorded));
        }
        else
        {
            _ = ObserveAsync(recorded);
        }
    }

    private async Task ObserveAsync(Task recorded)
    {
        try
        {
            await recorded;
        }
        catch (Exception exception)
        {
            Log.RejectionNotRecorded(logger, exception);
        }
    }

    /// <summary>
    /// The edge's code for a refusal, from its status and Kestrel's message (the rejection reason is internal to Kestrel;
    /// its messages are fixed English text, and the edge never copies them into an answer or a record).
    /// </summary>
    internal static EdgeDenial Classify(int status, string message)
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
                "The request body is larger than the edge accepts."),
            StatusCodes.Status414UriTooLong => ("request_line_too_long", "limit", "Request line too long",
                "The request line is longer than the edge accepts."),
            StatusCodes.Status431RequestHeaderFieldsTooLarge => ("headers_too_large",
                message.StartsWith("Request contains too many headers", StringComparison.Ordinal) ? "count" : "size",
                "Headers too large", "The request has more or larger headers than the edge accepts."),
            StatusCodes.Status505HttpVersionNotsupported => ("http_version_unsupported", "version", "HTTP version not supported",
                "The edge speaks HTTP/1.0, HTTP/1.1 and HTTP/2."),
            _ => ("request_invalid", "parser", "Request invalid", "The request could not be parsed."),
        };
        return new EdgeDenial(status, code, title, detail) { Reason = code + ":" + kind };
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

    private static partial class Log
    {
        [LoggerMessage(1003, LogLevel.Error, "A request Kestrel refused could not be audited")]
        public static partial void RejectionNotRecorded(ILogger logger, Exception exception);
    }
}

/// <summary>
/// The connection's output as Kestrel sees it: passes every write through until <see cref="ParserRejections"/> arms it
/// with an answer, then holds what Kestrel writes next (its empty refusal: status line and headers, nothing after, as
/// Kestrel closes the connection) and sends it on with the problem+json body once the refusal's record is written.
/// </summary>
internal sealed partial class ParserRejectionWriter(PipeWriter inner) : PipeWriter
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] ProblemHeaders = System.Text.Encoding.ASCII.GetBytes(
        "Content-Type: " + ProblemDetailsWriter.ContentType + "\r\nCache-Control: no-store\r\n" + EdgeRequestMiddleware.RequestIdHeader + ": ");

    private ArrayBufferWriter<byte>? _held;
    private Answer? _answer;

    internal sealed record Answer(string RequestId, ReadOnlyMemory<byte> Body, bool IsHead, Task Recorded);

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

        // Recorded before the client can see the answer, as on a route.
        try
        {
            await answer.Recorded;
        }
        catch (Exception)
        {
            // The sink logs its own failures; the answer goes out either way.
        }

        Rewrite(held.WrittenSpan, answer, inner);
        return await inner.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Kestrel's status line and headers, without its <c>Content-Length: 0</c>, then the problem+json headers and body. Bytes
    /// that are not one complete header block are passed on unchanged.
    /// </summary>
    internal static void Rewrite(ReadOnlySpan<byte> kestrel, Answer answer, IBufferWriter<byte> output)
    {
        var end = kestrel.IndexOf(HeaderEnd);
        if (end < 0 || end + HeaderEnd.Length != kestrel.Length)
        {
            output.Write(kestrel);
            return;
        }

        var lines = kestrel[..end];
        var first = true;
        foreach (var range in lines.Split("\r\n"u8))
        {
            var line = lines[range];
            if (!first && line.StartsWith("Content-Length:"u8))
            {
                continue;
            }

            output.Write(line);
            output.Write("\r\n"u8);
            first = false;
        }

        output.Write(ProblemHeaders);
        WriteAscii(output, answer.RequestId);
        output.Write("\r\nContent-Length: "u8);
        WriteAscii(output, answer.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        output.Write("\r\n\r\n"u8);
        if (!answer.IsHead)
        {
            output.Write(answer.Body.Span);
        }
    }

    private static void WriteAscii(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(text.Length);
        var written = System.Text.Encoding.ASCII.GetBytes(text, span);
        output.Advance(written);
    }
}
