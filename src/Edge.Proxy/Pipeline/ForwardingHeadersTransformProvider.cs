using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Pipeline;

/// <summary>Installs <see cref="ForwardingHeadersTransform"/> on every route in place of YARP's default forwarders.</summary>
internal sealed class ForwardingHeadersTransformProvider : ITransformProvider
{
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
    }
}
