using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Registered by <see cref="WebhookStep"/> once it reserved a delivery: when the delivery did not get through (a later
/// step or the backend refused it, or the client went away before it was sent on), the reservation is released so the
/// sender's retry is accepted.
/// </summary>
internal sealed class UnacceptedDeliveryRelease(WebhookReplayStore replay, ReplayReservation reservation) : IEdgeRequestCleanup
{
    private int _released;

    /// <summary>
    /// Registered with <c>Response.OnStarting</c> (state: the request's <see cref="HttpContext"/>): a refusal releases the
    /// delivery before its status reaches the sender. Released only at the end of the request, a sender retrying as soon
    /// as it read the status (while the edge still relayed the backend's error body, or had not yet finished the request)
    /// was told its delivery was already accepted: 409, or with <c>ReplayStatus: 200</c> a success for a lost delivery.
    /// </summary>
    public Task ReleaseIfRefusedAsync(object state)
    {
        // Kestrel starts the response of a request whose client left too (nothing is sent): that one is decided at the end.
        var context = (HttpContext)state;
        return context.Response.StatusCode >= StatusCodes.Status400BadRequest && !IsClientGone(context)
            ? ReleaseOnceAsync().AsTask()
            : Task.CompletedTask;
    }

    public async ValueTask CleanupAsync(HttpContext context)
    {
        if (!IsAccepted(context))
        {
            await ReleaseOnceAsync();
        }
    }

    // Once: a second release at the end of the request would delete the reservation of a retry accepted meanwhile.
    private ValueTask ReleaseOnceAsync() =>
        Interlocked.Exchange(ref _released, 1) == 0 ? replay.ReleaseAsync(reservation) : ValueTask.CompletedTask;

    private static bool IsAccepted(HttpContext context)
    {
        if (IsClientGone(context) && !context.Response.HasStarted)
        {
            // No answer says what the backend did. Once it was handed the delivery it may have acted on it, and releasing
            // then let whoever held a captured delivery replay it at will by hanging up before each answer.
            return context.GetEdgeRequest() is { SentToBackend: true };
        }

        return context.Response.StatusCode < StatusCodes.Status400BadRequest;
    }

    private static bool IsClientGone(HttpContext context) =>
        context.RequestAborted.IsCancellationRequested || context.Response.StatusCode == EdgeBodyBufferingTransform.ClientClosedRequest;
}
