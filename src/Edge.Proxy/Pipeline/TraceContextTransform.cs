using System.Diagnostics;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Sends the request's trace context (<c>traceparent</c>, and <c>tracestate</c> and <c>baggage</c> when present) to the
/// backend, replacing what the client sent: the trace id the audit record carries is the one the backend sees. YARP's
/// HttpClient did this through its diagnostics handler, which started a child <see cref="Activity"/> per backend call
/// and set five tags on it; no tracing exporter ever read that Activity, and it cost about 1 KB per request
/// (<c>edge-load request-alloc</c>). <see cref="EdgeForwarderHttpClientFactory"/> leaves that handler out, and this
/// transform, the last of every route, injects the request's own Activity with the same propagator YARP gave the
/// handler (<see cref="ReverseProxyPropagator"/>: the client's headers removed, then the current context written).
/// The backend's parent span id is now the edge's request span rather than a per-call child span.
/// </summary>
internal sealed class TraceContextTransform(DistributedContextPropagator propagator) : RequestTransform
{
    private static readonly DistributedContextPropagator.PropagatorSetterCallback Setter = static (carrier, name, value) =>
    {
        if (carrier is HttpRequestMessage request && value is not null)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
    };

    private readonly ReverseProxyPropagator _propagator = new(propagator);

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        // As the diagnostics handler: without an Activity (no logging, no listener) the request goes as the client sent it.
        if (Activity.Current is { } activity)
        {
            _propagator.Inject(activity, context.ProxyRequest, Setter);
        }

        return ValueTask.CompletedTask;
    }
}
