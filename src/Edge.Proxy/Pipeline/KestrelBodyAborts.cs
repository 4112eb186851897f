namespace Edge.Proxy.Pipeline;

/// <summary>
/// A request body Kestrel itself refused by resetting its HTTP/2 stream (RST_STREAM PROTOCOL_ERROR): DATA frames that
/// disagree with <c>content-length</c>, or another stream error. Kestrel aborts the request, so <c>RequestAborted</c>
/// alone made it look like a client that went away (499 <c>client_aborted</c>). The record keeps the status of the
/// refusal with <c>bytesOut</c> 0 and a reason that says no HTTP answer went out, as for h2c prior knowledge
/// (<see cref="ParserRejections.Http2PriorKnowledgeReason"/>).
/// </summary>
internal static class KestrelBodyAborts
{
    public const string StreamResetReason = EdgeBodyBufferingTransform.BodyInvalidCode + ":stream_reset";

    // Kestrel's HTTP/2 stream error, internal to Kestrel: the body read fails with an IOException around it.
    private const string Http2StreamError = "Microsoft.AspNetCore.Server.Kestrel.Core.Internal.Http2.Http2StreamErrorException";

    /// <summary>
    /// The status and reason to record for a body read that failed with <paramref name="exception"/> on an aborted
    /// request; null when Kestrel did not reset the stream. A read given a token Kestrel cancelled (<c>RequestAborted</c>,
    /// or the forwarder's linked to it) fails with a bare cancellation that does not say why; by then Kestrel has poisoned
    /// the request body with its reason, so one more read throws that at once.
    /// </summary>
    public static async ValueTask<(int Status, string Reason)?> ClassifyAbortedAsync(HttpContext context, Exception? exception)
    {
        if (IsStreamReset(exception))
        {
            return (StatusCodes.Status400BadRequest, StreamResetReason);
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
        _ => string.Equals(exception.GetType().FullName, Http2StreamError, StringComparison.Ordinal) || IsStreamReset(exception.InnerException),
    };
}
