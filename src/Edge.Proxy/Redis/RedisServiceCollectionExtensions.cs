using Edge.Proxy.Configuration;

namespace Edge.Proxy.Redis;

internal static class RedisServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRedis(this IServiceCollection services, EdgeHostOptions options)
    {
        services.AddSingleton(provider => new EdgeRedis(options.Redis, provider.GetRequiredService<ILogger<EdgeRedis>>()));
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return services;
    }
}
