using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// What a step sees for one request: the incoming request, the outgoing proxy request and the edge's request state.
/// A struct: it only bundles two references, so it need not be a heap object per step per request.
/// </summary>
internal readonly struct EdgeStepContext(RequestTransformContext transform, EdgeRequestFeature request)
{
    public HttpContext HttpContext => Transform.HttpContext;

    /// <summary>The YARP transform context; use <c>ProxyRequest</c> to set headers for the backend.</summary>
    public RequestTransformContext Transform { get; } = transform;

    public EdgeRequestFeature Request { get; } = request;

    public CancellationToken RequestAborted => Transform.CancellationToken;
}
