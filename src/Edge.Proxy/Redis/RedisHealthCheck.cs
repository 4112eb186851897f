using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Redis;

/// <summary>Ready only while the configured Redis answers PING within a second.</summary>
internal sealed class RedisHealthCheck(EdgeRedis redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!redis.IsConfigured)
        {
            return HealthCheckResult.Healthy("Redis not configured; single-node in-process state");
        }

        try
        {
            if (redis.Multiplexer is not { IsConnected: true } multiplexer)
            {
                return HealthCheckResult.Unhealthy(await redis.DescribeFailureAsync() is { } failure ? $"Redis is not connected ({failure})" : "Redis is not connected");
            }

            var latency = await multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
            return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:F1} ms");
        }
        catch (Exception ex) when (ex is TimeoutException or StackExchange.Redis.RedisException)
        {
            return HealthCheckResult.Unhealthy($"Redis PING failed: {ex.GetType().Name}");
        }
    }
}
