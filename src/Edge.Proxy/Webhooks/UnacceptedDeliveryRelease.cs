using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Registered by <see cref="WebhookStep"/> once it reserved a delivery: when the delivery did not get through (a later
/// step or the backend refused it, or the client went away), the reservation is released so the sender's retry is
/// accepted.
/// </summary>
internal sealed class UnacceptedDeliveryRelease(WebhookReplayStore replay, ReplayReservation reservation) : IEdgeRequestCleanup
{
    public async ValueTask CleanupAsync(HttpContext context)
    {
        if (context.Response.StatusCode >= 400 || context.RequestAborted.IsCancellationRequested)
        {
            await replay.ReleaseAsync(reservation);
        }
    }
}
