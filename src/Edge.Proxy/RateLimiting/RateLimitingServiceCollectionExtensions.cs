using Microsoft.Extensions.DependencyInjection.Extensions;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.RateLimiting;

internal static class RateLimitingServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRateLimiting(this IServiceCollection services)
    {
        services.AddSingleton<RateLimitMetrics>();
        services.AddSingleton<RedisRateLimitConnection>();
        services.AddHostedService<RateLimitRedisWarmup>();
        services.AddSingleton<RateLimiterRegistry>();
        services.AddSingleton<IConfigEventSink>(sp => sp.GetRequiredService<RateLimiterRegistry>());
        services.AddSingleton<EdgeRateLimiterPolicies>();
        // The route policy records refusals like a step; TryAdd because a plain ASP.NET Core app may use it without the edge pipeline.
        services.TryAddSingleton<EdgeDecisions>();
        services.AddSingleton<RateLimitStepFactory>();
        services.AddSingleton<IEdgeStepFactory>(sp => sp.GetRequiredService<RateLimitStepFactory>());
        return services;
    }
}
