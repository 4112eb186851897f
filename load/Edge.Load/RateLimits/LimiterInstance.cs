using Edge.Configuration;
using Edge.Configuration.RateLimiting;
using Edge.Proxy.Observability;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Load.RateLimits;

/// <summary>
/// One edge instance's rate-limiting services, registered exactly as the edge host registers them
/// (<c>AddEdgeRateLimiting</c>): its own multiplexer, breakers, lease and refusal state. Two instances against one Redis
/// share buckets the way two edge processes do.
/// </summary>
internal sealed class LimiterInstance : IDisposable
{
    private readonly ServiceProvider _provider;

    private LimiterInstance(ServiceProvider provider) => _provider = provider;

    public RedisRateLimitConnection Connection => _provider.GetRequiredService<RedisRateLimitConnection>();

    /// <summary>This instance's Redis client once connected (the phase trace registers the client's profiler on it).</summary>
    public StackExchange.Redis.IConnectionMultiplexer? Multiplexer => _provider.GetRequiredService<EdgeRedis>().Multiplexer;

    public EdgeRateLimiter LimiterFor(RateLimitPolicy policy) => _provider.GetRequiredService<RateLimiterRegistry>().GetOrCreate(policy);

    /// <summary>Builds the services and warms up as the host does before it listens (connect, load the script).</summary>
    public static async Task<LimiterInstance> StartAsync(string redis, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddSimpleConsole(o => (o.TimestampFormat, o.UseUtcTimestamp, o.SingleLine) = ("HH:mm:ss.fff ", true, true)));
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new EdgeRedis(redis));
        services.AddSingleton<EdgeMetrics>();
        services.AddSingleton(new EdgeHostOptions());
        services.AddEdgeRateLimiting();
        var instance = new LimiterInstance(services.BuildServiceProvider());
        if (!await instance.Connection.WarmUpAsync(cancellationToken).ConfigureAwait(false))
        {
            instance.Dispose();
            throw new InvalidOperationException($"Redis at '{redis}' could not be reached for the warm-up");
        }

        return instance;
    }

    public void Dispose() => _provider.Dispose();
}
