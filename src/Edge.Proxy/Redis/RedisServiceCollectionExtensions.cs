using Edge.Proxy.Configuration;

namespace Edge.Proxy.Redis;

internal static class RedisServiceCollectionExtensions
{
    public static IServiceCollection AddEdgeRedis(this IServiceCollection services, EdgeHostOptions options)
    {
        // Resolved once at start, as every host setting: a rotated env: or file: Redis string needs a restart.
        var configuration = RedisConnectionSetting.Resolve(options.Redis);
        services.AddSingleton(provider => new EdgeRedis(configuration, provider.GetRequiredService<ILogger<EdgeRedis>>()));
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return services;
    }
}
