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
        services.AddSingleton<EdgeRateLimiterPolicies>();
        // The route policy records refusals like a step; TryAdd because a plain ASP.NET Core app may use it without the edge pipeline.
        services.TryAddSingleton<EdgeDecisions>();
        services.AddSingleton<RateLimitStepFactory>();
        services.AddSingleton<IEdgeStepFactory>(sp => sp.GetRequiredService<RateLimitStepFactory>());

        // Routes' RateLimiterPolicy: the Edge policy objects are attached per endpoint (EdgeRateLimiterPolicies),
        // so nothing is registered by name; a refusal's status and body come from the policy's OnRejected.
        services.AddRateLimiter(options => options.RejectionStatusCode = StatusCodes.Status429TooManyRequests);
        return services;
    }
}
