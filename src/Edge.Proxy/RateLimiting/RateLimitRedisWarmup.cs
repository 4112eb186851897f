namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Connects to Redis and loads the rate-limit script in <see cref="StartingAsync"/>, which the host runs before any
/// hosted service's StartAsync and so before Kestrel takes traffic: the first requests find a connected multiplexer
/// and a cached script, and no decision falls back or is refused because of the edge's own warm-up. Bounded by
/// <see cref="MaxWait"/>: a Redis that is down at startup delays the start by at most that long, then the outage modes
/// apply until the multiplexer connects by itself.
/// </summary>
internal sealed partial class RateLimitRedisWarmup(RedisRateLimitConnection connection, TimeProvider time, ILogger<RateLimitRedisWarmup> logger) : IHostedLifecycleService
{
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(5);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (!connection.IsConfigured)
        {
            return;
        }

        var started = time.GetTimestamp();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(MaxWait);
        try
        {
            if (await connection.WarmUpAsync(bounded.Token).ConfigureAwait(false))
            {
                Log.Ready(logger, time.GetElapsedTime(started).TotalMilliseconds);
                return;
            }

            Log.NotReachable(logger, await connection.DescribeFailureAsync().ConfigureAwait(false) is { } failure ? "not connected: " + failure : "not connected");
        }
        catch (Exception ex) when (ex is OperationCanceledException or StackExchange.Redis.RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            Log.NotReachable(logger, ex.GetType().Name);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1305, Level = LogLevel.Information, Message = "Rate limiting: Redis connected and script loaded in {ElapsedMs} ms, before the proxy listener started")]
        public static partial void Ready(ILogger logger, double elapsedMs);

        [LoggerMessage(EventId = 1306, Level = LogLevel.Warning, Message = "Rate limiting: Redis not reachable at startup ({Reason}); outage modes apply until it connects")]
        public static partial void NotReachable(ILogger logger, string reason);
    }
}
