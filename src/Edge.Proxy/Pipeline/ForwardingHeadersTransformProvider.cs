using System.Diagnostics;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Installs <see cref="ForwardingHeadersTransform"/> on every route in place of YARP's default forwarders, and
/// <see cref="TraceContextTransform"/> and <see cref="EncodedSlashTransform"/> after the route's own transforms, and <see cref="BackendResponseHeadersTransform"/>
/// on every response.
/// </summary>
internal sealed class ForwardingHeadersTransformProvider : ITransformProvider
{
    // The propagator current when the proxy starts, as YARP's client factory took it for its diagnostics handler.
    private readonly TraceContextTransform _traceContext = new(DistributedContextPropagator.Current);

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        context.UseDefaultForwarders = false;
        context.RequestTransforms.Add(ForwardingHeadersTransform.Instance);
        context.RequestTransforms.Add(_traceContext);
        context.RequestTransforms.Add(EncodedSlashTransform.Instance);
        context.ResponseTransforms.Add(BackendResponseHeadersTransform.Instance);
    }
}
