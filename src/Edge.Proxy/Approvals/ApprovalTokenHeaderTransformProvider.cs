using Edge.Proxy.Configuration;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Adds <see cref="ApprovalTokenHeaderTransform"/> to every route while some approval policy is configured. Routes are
/// rebuilt whenever the Edge section changes (their policy hash), so a renamed or added policy header is stripped from
/// the next revision on; without approval policies nothing is added and no route pays for it.
/// </summary>
internal sealed class ApprovalTokenHeaderTransformProvider(EdgeConfigState state) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var headers = state.Current.Edge.Approvals.Values
            .Select(policy => policy.Header)
            .Where(header => !string.IsNullOrEmpty(header))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToArray();
        if (headers.Length > 0)
        {
            context.RequestTransforms.Add(new ApprovalTokenHeaderTransform(headers));
        }
    }
}
