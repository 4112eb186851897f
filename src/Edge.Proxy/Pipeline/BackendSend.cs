using System.Runtime.CompilerServices;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Whether a proxied request was handed to the backend. From a client that went away before its answer, the edge cannot
/// otherwise tell a request the backend never got (a step was still running) from one the backend may have acted on:
/// a step that undoes its bookkeeping for requests that were not served (a webhook's replay reservation) marks its proxy
/// request with <see cref="Track"/>, and the forwarder's handler records the send on the request's state.
/// </summary>
internal static class BackendSend
{
    // Not HttpRequestMessage.Options: reading it allocates its dictionary, on every proxied request, tracked or not. The
    // table is read lock-free and holds its keys weakly: a request denied after Track leaves nothing behind.
    private static readonly ConditionalWeakTable<HttpRequestMessage, EdgeRequestFeature> Tracked = [];

    public static void Track(HttpRequestMessage proxyRequest, EdgeRequestFeature request) => Tracked.AddOrUpdate(proxyRequest, request);

    /// <summary>
    /// The outermost handler of the forwarder's client: it sees each request before any byte of it is sent.
    /// </summary>
    internal sealed class MarkingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            // A send cancelled before it starts (the client left during the last step) never reaches the backend.
            if (!cancellationToken.IsCancellationRequested && Tracked.TryGetValue(request, out var feature))
            {
                feature.MarkSentToBackend();
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
