namespace Edge.Proxy.Pipeline;

public static class EdgeRequestContextExtensions
{
    /// <summary>The edge state of the request, or null outside an edge route.</summary>
    public static EdgeRequestContext? GetEdgeRequest(this HttpContext context) => context.Features.Get<EdgeRequestContext>();
}
