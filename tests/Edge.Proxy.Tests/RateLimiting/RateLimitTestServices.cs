using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edge.Proxy.Tests.RateLimiting;

/// <summary>The rate-limiting services as the host registers them, with or without a real Redis.</summary>
internal sealed class RateLimitTestServices : IDisposable
{
    private readonly ServiceProvider _provider;

    public RateLimitTestServices(string? redis = null, TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(Logs));
        services.AddMetrics();
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddSingleton(new EdgeRedis(redis));
        services.AddSingleton<EdgeMetrics>();
        services.AddSingleton(new EdgeHostOptions());
        services.AddEdgeRateLimiting();
        _provider = services.BuildServiceProvider();
    }

    /// <summary>What the services logged at Warning and above.</summary>
    public CapturedLogs Logs { get; } = new();

    public RateLimiterRegistry Registry => _provider.GetRequiredService<RateLimiterRegistry>();

    public RedisRateLimitConnection Connection => _provider.GetRequiredService<RedisRateLimitConnection>();

    public RateLimitStepFactory StepFactory => _provider.GetRequiredService<RateLimitStepFactory>();

    public static RateLimitPolicy Policy(RateLimitPolicyOptions options, string name = "p")
    {
        var errors = new ConfigErrorList();
        return RateLimitPolicy.TryCreate(name, options, errors) ?? throw new InvalidOperationException(string.Join("; ", errors.Errors));
    }

    /// <summary>Warms up as the host does before it listens (connect, load the script), then waits for the connection.</summary>
    public async Task WaitForRedisAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        // Like the host's warm-up, a warm-up call that timed out is not fatal: on a loaded test machine a fresh
        // redis-server's first EVALSHA sometimes answers after the fixtures' 1 s asyncTimeout. Try again until the deadline.
        while (true)
        {
            try
            {
                await Connection.WarmUpAsync(CancellationToken.None);
                break;
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }

        while (Connection.Database is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Redis did not connect within 10 s");
            }

            await Task.Delay(20);
        }
    }

    public void Dispose() => _provider.Dispose();
}
