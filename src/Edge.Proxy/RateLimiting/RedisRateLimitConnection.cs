using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The Redis side shared by every policy: the multiplexer (connected in the background so no request ever waits for
/// the first connect) and one circuit breaker, because all policies talk to the same server.
/// </summary>
internal sealed partial class RedisRateLimitConnection
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromMilliseconds(500);
    public const int FailureThreshold = 3;
    public static readonly TimeSpan MinFailureSpan = TimeSpan.FromMilliseconds(50);

    private readonly ILogger _logger;
    private readonly RateLimitMetrics _metrics;
    private IConnectionMultiplexer? _multiplexer;

    public RedisRateLimitConnection(EdgeRedis redis, RateLimitMetrics metrics, TimeProvider time, ILogger<RedisRateLimitConnection> logger)
    {
        _logger = logger;
        _metrics = metrics;
        Clock = new RedisClientClock(time, logger);
        IsConfigured = redis.IsConfigured;
        if (IsConfigured)
        {
            _ = Task.Run(() => Volatile.Write(ref _multiplexer, redis.Multiplexer));
        }
    }

    public bool IsConfigured { get; }

    public RedisCircuitBreaker Breaker { get; } = new(FailureThreshold, BreakDuration, MinFailureSpan);

    /// <summary>Client time for scripts, used only once the server refused <c>TIME</c> in a script.</summary>
    public RedisClientClock Clock { get; }

    /// <summary>The database when connected; null while connecting or disconnected.</summary>
    public IDatabase? Database => Volatile.Read(ref _multiplexer) is { IsConnected: true } multiplexer ? multiplexer.GetDatabase() : null;

    /// <summary>
    /// One script call. The first refusal of <c>TIME</c> switches this connection to offset-corrected client time and
    /// retries once with it; from then on every call passes client time.
    /// </summary>
    public async Task<BucketResult> TakeAsync(IDatabaseAsync database, RateLimitPolicy policy, string partition, int want, int min)
    {
        var clientTime = await Clock.NowAsync(database).ConfigureAwait(false);
        try
        {
            return await RedisRateLimitScript.TakeAsync(database, policy, partition, want, min, clientTime).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (clientTime is null && RedisClientClock.IsTimeRefusal(ex.Message))
        {
            Clock.Enable();
            clientTime = await Clock.NowAsync(database).ConfigureAwait(false);
            return await RedisRateLimitScript.TakeAsync(database, policy, partition, want, min, clientTime).ConfigureAwait(false);
        }
    }

    public void OnSuccess(bool isProbe)
    {
        var wasOpen = Breaker.IsOpen;
        Breaker.OnSuccess(isProbe);
        if (wasOpen && !Breaker.IsOpen)
        {
            _metrics.Breaker("closed");
            Log.BreakerClosed(_logger);
        }
    }

    public void OnFailure(bool isProbe, string reason)
    {
        if (Breaker.OnFailure(isProbe))
        {
            _metrics.Breaker("open");
            Log.BreakerOpened(_logger, reason, Breaker.BreakDuration.TotalMilliseconds);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Rate limiting: Redis unavailable ({Reason}); outage modes apply, next probe in {BreakMs} ms")]
        public static partial void BreakerOpened(ILogger logger, string reason, double breakMs);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Rate limiting: Redis answered again; shared limiting resumed")]
        public static partial void BreakerClosed(ILogger logger);
    }
}
