using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Registered by <see cref="WebhookStep"/> once it reserved a delivery: when the delivery did not get through (a later
/// step or the backend refused it, or the client went away before it was sent on), the reservation is released so the
/// sender's retry is accepted.
/// </summary>
internal sealed class UnacceptedDeliveryRelease(WebhookReplayStore replay, ReplayReservation reservation) : IEdgeRequestCleanup
{
    public async ValueTask CleanupAsync(HttpContext context)
    {
        if (!IsAccepted(context))
        {
            await replay.ReleaseAsync(reservation);
        }
    }

    private static bool IsAccepted(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var clientGone = context.RequestAborted.IsCancellationRequested || status == EdgeBodyBufferingTransform.ClientClosedRequest;
        if (clientGone && !context.Response.HasStarted)
        {
            // No answer says what the backend did. Once it was handed the delivery it may have acted on it, and releasing
            // then let whoever held a captured delivery replay it at will by hanging up before each answer.
            return context.GetEdgeRequest() is { SentToBackend: true };
        }

        return status < StatusCodes.Status400BadRequest;
    }
}
