using Edge.Proxy.RateLimiting;
using Edge.Proxy.Redis;
using Edge.Proxy.Tests.RateLimiting;
using Edge.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Edge.Proxy.Tests.Redis;

public sealed class RedisHealthCheckTests
{
    [Theory]
    [InlineData("")]
    [InlineData(",password=not-the-password-0001")]
    public async Task CheckHealthAsync_RedisRefusesTheCredentials_NamesAuthenticationFailure(string credentials)
    {
        await using var server = await RequiringPasswordAsync();
        using var redis = new EdgeRedis(server.ConnectionString + credentials);
        await redis.ConnectAsync();

        var result = await new RedisHealthCheck(redis).CheckHealthAsync(new HealthCheckContext());

        // Before, a missing or wrong password read "Redis is not connected": an operator looked for a network outage.
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("Redis is not connected (AuthenticationFailure);", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_ClusterRefusesTheCredentials_NamesAuthenticationFailure()
    {
        await using var cluster = await RedisCluster.StartAsync();
        using (var admin = cluster.Connect())
        {
            foreach (var node in cluster.Nodes)
            {
                await admin.GetServer($"127.0.0.1:{node.Port}").ExecuteAsync("CONFIG", "SET", "requirepass", "the-password-0001");
            }
        }

        using var redis = new EdgeRedis(cluster.ConnectionString + ",password=not-the-password-0001");
        await redis.ConnectAsync();

        var result = await new RedisHealthCheck(redis).CheckHealthAsync(new HealthCheckContext());

        // With several endpoints the client wraps each node's failure in an AggregateException: a cluster refusing the
        // password read "UnableToResolvePhysicalConnection", which sends an operator looking for a network fault.
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("Redis is not connected (AuthenticationFailure);", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_NothingListening_NamesTheConnectFailure()
    {
        using var redis = new EdgeRedis($"127.0.0.1:{FreePort.Next()},connectTimeout=500");
        await redis.ConnectAsync();

        var result = await new RedisHealthCheck(redis).CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.StartsWith("Redis is not connected (", result.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("AuthenticationFailure", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartingAsync_RedisRefusesTheCredentials_StartupLogNamesAuthenticationFailure()
    {
        await using var server = await RequiringPasswordAsync();
        using var services = new RateLimitTestServices(server.ConnectionString);
        var warmup = new RateLimitRedisWarmup(services.Connection, TimeProvider.System, new LoggerFactory([services.Logs]).CreateLogger<RateLimitRedisWarmup>());

        await warmup.StartingAsync(CancellationToken.None);

        var logged = Assert.Single(services.Logs.Entries, e => e.Id.Id == 1306);
        Assert.Contains("not connected: AuthenticationFailure", logged.Message, StringComparison.Ordinal);
    }

    private static async Task<RedisServer> RequiringPasswordAsync()
    {
        var server = await RedisServer.StartAsync();
        using var admin = server.Connect();
        await admin.GetDatabase().ExecuteAsync("CONFIG", "SET", "requirepass", "the-password-0001");
        return server;
    }
}
