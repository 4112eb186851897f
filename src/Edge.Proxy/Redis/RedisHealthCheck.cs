using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Edge.Proxy.Redis;

/// <summary>
/// Healthy while the configured Redis answers PING within a second; otherwise Degraded, which /readyz still answers 200.
/// Redis is shared by every instance, so a Redis outage failed the readiness of the whole fleet at once and a load
/// balancer took every instance out, while each step that uses Redis has an outage mode of its own (rate limits
/// <c>OnRedisUnavailable</c>, bans enforced from the instance's copy) meant to keep serving meanwhile.
/// </summary>
internal sealed class RedisHealthCheck(EdgeRedis redis) : IHealthCheck
{
    private const string Meanwhile = "; steps that use Redis answer by their outage modes meanwhile";

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
                return HealthCheckResult.Degraded(
                    (await redis.DescribeFailureAsync() is { } failure ? $"Redis is not connected ({failure})" : "Redis is not connected") + Meanwhile);
            }

            var latency = await multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
            return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:F1} ms");
        }
        catch (Exception ex) when (ex is TimeoutException or StackExchange.Redis.RedisException)
        {
            return HealthCheckResult.Degraded($"Redis PING failed: {ex.GetType().Name}" + Meanwhile);
        }
    }
}
