using Yarp.ReverseProxy.Forwarder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// YARP's client for the backends, without HttpClient's diagnostics handler (no <c>ActivityHeadersPropagator</c>): the
/// trace context goes to the backend through <see cref="TraceContextTransform"/> instead, without a child Activity per
/// call. Everything else (connection settings, the <c>System.Net.Http</c> meter) is YARP's default, wrapped in
/// <see cref="BackendSend.MarkingHandler"/>, which records that a tracked request was handed to the backend, and with
/// connections <see cref="BackendResponseFraming"/> can close when a response's framing cannot be trusted (the check
/// itself is in the route's transformer, <see cref="BackendResponseFraming.Transformer"/>).
/// </summary>
internal sealed class EdgeForwarderHttpClientFactory(ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ActivityHeadersPropagator = null;
        handler.ConnectCallback = BackendResponseFraming.ConnectAsync;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new BackendSend.MarkingHandler(base.WrapHandler(context, handler));
}
