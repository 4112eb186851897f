using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Pipeline;

/// <summary>Typed access to the request's edge features.</summary>
/// <remarks>
/// Through the non-generic indexer: <c>IFeatureCollection.Get&lt;T&gt;</c> is a generic virtual method, resolved by the
/// runtime's dispatch cache on every call, and for a type Kestrel does not know (every edge feature) it walks Kestrel's
/// type chain in shared generic code and, when the feature is absent, the connection's features the same way. The
/// indexer reaches the same slot (Kestrel's <c>Set&lt;T&gt;</c> stores under <c>typeof(T)</c>) with plain calls; the edge
/// reads its features a dozen times per request (issue 13).
/// </remarks>
internal static class EdgeFeatures
{
    /// <summary>The edge core of the request, or null outside an edge route.</summary>
    public static EdgeRequestFeature? GetEdgeRequest(this HttpContext context) => (EdgeRequestFeature?)context.Features[typeof(EdgeRequestFeature)];

    public static EdgeTenantFeature? GetTenant(this HttpContext context) => (EdgeTenantFeature?)context.Features[typeof(EdgeTenantFeature)];

    public static IEdgeIdentityFeature? GetIdentity(this HttpContext context) => (IEdgeIdentityFeature?)context.Features[typeof(IEdgeIdentityFeature)];

    public static EdgeBodyFeature? GetBody(this HttpContext context) => (EdgeBodyFeature?)context.Features[typeof(EdgeBodyFeature)];

    public static T? GetFeature<T>(this HttpContext context)
        where T : class => (T?)context.Features[typeof(T)];

    /// <summary>YARP's <c>GetReverseProxyFeature</c> through the indexer: the proxy pipeline always has it.</summary>
    public static IReverseProxyFeature GetProxyFeature(this HttpContext context) =>
        (IReverseProxyFeature?)context.Features[typeof(IReverseProxyFeature)]
        ?? throw new InvalidOperationException("The request is not on a reverse-proxy route.");

    public static void SetFeature<T>(this HttpContext context, T feature)
        where T : class => context.Features[typeof(T)] = feature;
}
