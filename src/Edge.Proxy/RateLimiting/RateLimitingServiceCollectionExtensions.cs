using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

internal static class RateLimitingServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRateLimiting(this IServiceCollection services)
    {
        services.AddSingleton<RateLimitMetrics>();
        services.AddSingleton<RedisRateLimitConnection>();
        services.AddSingleton<RateLimiterRegistry>();
        services.AddSingleton<RateLimitStepFactory>();
        services.AddSingleton<IEdgeStepFactory>(sp => sp.GetRequiredService<RateLimitStepFactory>());
        services.AddSingleton<IEdgeSectionValidator, RateLimitSectionValidator>();
        return services;
    }
}
