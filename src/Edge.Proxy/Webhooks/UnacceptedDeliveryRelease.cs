using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Registered by <see cref="WebhookStep"/> once it reserved a delivery: when the delivery did not get through (a later
/// step or the backend refused it, or the client went away before it was sent on), the reservation is released so the
/// sender's retry is accepted; when its answer starts below 400, the reservation is marked accepted, and only from then
/// on does a duplicate get <c>ReplayStatus</c>.
/// </summary>
internal sealed class UnacceptedDeliveryRelease(WebhookReplayStore replay, ReplayReservation reservation) : IEdgeRequestCleanup
{
    private const int Open = 0;
    private const int Released = 1;
    private const int Accepted = 2;

    private int _state;

    /// <summary>
    /// Registered with <c>Response.OnStarting</c> (state: the request's <see cref="HttpContext"/>): a refusal releases the
    /// delivery before its status reaches the sender. Released only at the end of the request, a sender retrying as soon
    /// as it read the status (while the edge still relayed the backend's error body, or had not yet finished the request)
    /// was told its delivery was already accepted. An acceptance is marked before its status goes out too, so the sender's
    /// duplicate sent the moment it reads the 2xx gets <c>ReplayStatus</c>, not 409 <c>delivery_in_flight</c>.
    /// </summary>
    public Task SettleOnStartingAsync(object state)
    {
        // Kestrel starts the response of a request whose client left too (nothing is sent): that one is decided at the end.
        var context = (HttpContext)state;
        if (IsClientGone(context))
        {
            return Task.CompletedTask;
        }

        return context.Response.StatusCode >= StatusCodes.Status400BadRequest ? ReleaseOnceAsync().AsTask() : AcceptOnceAsync().AsTask();
    }

    public async ValueTask CleanupAsync(HttpContext context)
    {
        // A client that hung up after the backend was handed the delivery leaves it neither released nor accepted: in
        // flight until its TTL, since nothing says whether the backend acted on it.
        if (!IsAccepted(context))
        {
            await ReleaseOnceAsync();
        }
    }

    // Once, and never after the mark: a second release at the end of the request would delete the reservation of a retry
    // accepted meanwhile.
    private ValueTask ReleaseOnceAsync() =>
        Interlocked.CompareExchange(ref _state, Released, Open) == Open ? replay.ReleaseAsync(reservation) : ValueTask.CompletedTask;

    private ValueTask AcceptOnceAsync() =>
        Interlocked.CompareExchange(ref _state, Accepted, Open) == Open ? replay.MarkAcceptedAsync(reservation) : ValueTask.CompletedTask;

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
