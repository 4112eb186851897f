using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>What a step sees for one request: the incoming request, the outgoing proxy request and the edge's request state.</summary>
public sealed class EdgeStepContext(RequestTransformContext transform, EdgeRequestContext request)
{
    public HttpContext HttpContext => Transform.HttpContext;

    /// <summary>The YARP transform context; use <c>ProxyRequest</c> to set headers for the backend.</summary>
    public RequestTransformContext Transform { get; } = transform;

    public EdgeRequestContext Request { get; } = request;

    public CancellationToken RequestAborted => Transform.CancellationToken;
}
