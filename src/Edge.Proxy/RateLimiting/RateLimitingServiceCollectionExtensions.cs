namespace Edge.Proxy.RateLimiting;

internal static class RateLimitingServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRateLimiting(this IServiceCollection services) => services;
}
