using Edge.Proxy.Configuration;

namespace Edge.Proxy.Redis;

internal static class RedisServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRedis(this IServiceCollection services, EdgeHostOptions options)
    {
        services.AddSingleton(new EdgeRedis(options.Redis));
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return services;
    }
}
