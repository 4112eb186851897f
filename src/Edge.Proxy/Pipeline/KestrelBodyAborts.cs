namespace Edge.Proxy.Pipeline;

/// <summary>
/// A request body Kestrel itself refused while the request was aborted, so <c>RequestAborted</c> alone made it look like
/// a client that went away (499 <c>client_aborted</c>): an HTTP/2 stream Kestrel reset (RST_STREAM PROTOCOL_ERROR: DATA
/// frames that disagree with <c>content-length</c>, or another stream error), or an HTTP/2 connection Kestrel ended
/// because a body arrived slower than <c>MinRequestBodyDataRate</c> (GOAWAY) or over trailing HEADERS it refused (GOAWAY
/// PROTOCOL_ERROR). The record keeps the status of the refusal
/// with <c>bytesOut</c> 0 and a reason that says no HTTP answer went out, as for h2c prior knowledge
/// (<see cref="ParserRejections.Http2PriorKnowledgeReason"/>).
/// </summary>
internal static class KestrelBodyAborts
{
    public const string StreamResetReason = EdgeBodyBufferingTransform.BodyInvalidCode + ":stream_reset";
    public const string ConnectionClosedTimeoutReason = EdgeBodyBufferingTransform.BodyTimeoutCode + ":connection_closed";

    /// <summary>
    /// An HTTP/2 connection Kestrel ended (GOAWAY PROTOCOL_ERROR) over trailing HEADERS it refused while the body was read:
    /// the client gets no HTTP answer, and did not go away either.
    /// </summary>
    public const string ConnectionClosedInvalidReason = EdgeBodyBufferingTransform.BodyInvalidCode + ":connection_closed";

    // Kestrel's HTTP/2 stream error, internal to Kestrel: the body read fails with an IOException around it. Kestrel exposes
    // no public error code for a stream it reset (IHttpResetFeature only sends one); KestrelBodyAbortsTests fails when the
    // type is renamed, so the classification cannot fall back to client_aborted unnoticed.
    internal const string Http2StreamErrorTypeName = "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2StreamErrorException";

    // Kestrel's text for RequestRejectionReason.RequestBodyTimeout (CoreStrings.BadRequest_RequestBodyTimeout; ASP.NET Core
    // does not localize Kestrel's messages), the reason it aborts an HTTP/2 connection with. Checked by KestrelBodyAbortsTests.
    internal const string RequestBodyTimeoutMessage = "Reading the request body timed out due to data arriving too slowly. See MinRequestBodyDataRate.";

    /// <summary>
    /// The status and reason to record for a body read that failed with <paramref name="exception"/> on an aborted
    /// request; null when Kestrel neither reset the stream nor ended the connection over the body's rate. A read given a
    /// token Kestrel cancelled (<c>RequestAborted</c>, or the forwarder's linked to it) fails with a bare cancellation that
    /// does not say why; by then Kestrel has poisoned the request body with its reason, so one more read throws that at once.
    /// </summary>
    public static async ValueTask<(int Status, string Reason)?> ClassifyAbortedAsync(HttpContext context, Exception? exception)
    {
        if (IsStreamReset(exception))
        {
            return (StatusCodes.Status400BadRequest, StreamResetReason);
        }

        // Kestrel's HTTP/2 end reason is set before its GOAWAY goes out, so neither the client's close on it nor the
        // streams' abort can come first; the abort's reason is kept for a connection whose end reason was already taken.
        // Over HTTP/1.1 Kestrel answers the same timeout with a 408 the client gets, which YARP's status already says.
        if (context.Features.Get<KestrelConnectionAbort>() is { } connection
            && ((HttpProtocol.IsHttp2(context.Request.Protocol) && connection.EndReason is KestrelEndReason.MinRequestBodyDataRate)
                || connection.Reason is { Message: RequestBodyTimeoutMessage }))
        {
            return (StatusCodes.Status408RequestTimeout, ConnectionClosedTimeoutReason);
        }

        // Trailing HEADERS Kestrel refused end the whole HTTP/2 connection (a connection error, not a stream reset: RFC 9113
        // §8.1 lets it, and Kestrel cannot keep its HPACK state otherwise); the streams on it fail like a client's close.
        // The end reason is set before the GOAWAY is written and before the streams are aborted.
        if (HttpProtocol.IsHttp2(context.Request.Protocol)
            && context.Features.Get<KestrelConnectionAbort>() is { EndReason: KestrelEndReason.InvalidRequestHeaders })
        {
            return (StatusCodes.Status400BadRequest, ConnectionClosedInvalidReason);
        }

        if (!context.RequestAborted.IsCancellationRequested || !HttpProtocol.IsHttp2(context.Request.Protocol))
        {
            return null;
        }

        try
        {
            _ = await context.Request.Body.ReadAsync(new byte[1], CancellationToken.None);
            return null;
        }
        catch (Exception reason) when (IsStreamReset(reason))
        {
            return (StatusCodes.Status400BadRequest, StreamResetReason);
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static bool IsStreamReset(Exception? exception) => exception switch
    {
        null => false,
        AggregateException all => all.InnerExceptions.Any(IsStreamReset),
        _ => string.Equals(exception.GetType().FullName, Http2StreamErrorTypeName, StringComparison.Ordinal) || IsStreamReset(exception.InnerException),
    };
}
