namespace Edge.Proxy.Pipeline;

/// <summary>Typed access to the request's edge features.</summary>
internal static class EdgeFeatures
{
    /// <summary>The edge core of the request, or null outside an edge route.</summary>
    public static EdgeRequestFeature? GetEdgeRequest(this HttpContext context) => context.Features.Get<EdgeRequestFeature>();

    public static EdgeTenantFeature? GetTenant(this HttpContext context) => context.Features.Get<EdgeTenantFeature>();

    public static IEdgeIdentityFeature? GetIdentity(this HttpContext context) => context.Features.Get<IEdgeIdentityFeature>();

    public static EdgeBodyFeature? GetBody(this HttpContext context) => context.Features.Get<EdgeBodyFeature>();
}
