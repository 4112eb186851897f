using System.Diagnostics;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The Redis side shared by every policy: the multiplexer (connected by <see cref="RateLimitRedisWarmup"/> before the
/// proxy listener starts), one circuit breaker, and the wait for an answer that tells a blackholed server from a busy
/// edge (<see cref="AwaitAnswerAsync"/>).
/// </summary>
internal sealed partial class RedisRateLimitConnection
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromMilliseconds(500);
    public const int FailureThreshold = 3;
    public static readonly TimeSpan MinFailureSpan = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The longest a decision waits while Redis keeps answering other commands (the edge or Redis is busy, not down):
    /// Kong's Redis timeout. Past it the decision falls back with reason <c>overloaded</c>.
    /// </summary>
    public static readonly TimeSpan BusyCeiling = TimeSpan.FromSeconds(2);

    private const int MaxLateWakeUps = 4;

    private static readonly RateLimitPolicy WarmUpPolicy =
        RateLimitPolicy.TryCreate("warm-up", new RateLimitPolicyOptions { Limit = 1 }, new Edge.Configuration.ConfigErrorList())!;

    private readonly EdgeRedis _redis;
    private readonly ILogger _logger;
    private readonly RateLimitMetrics _metrics;
    private long _lastAnswer;

    public RedisRateLimitConnection(EdgeRedis redis, RateLimitMetrics metrics, TimeProvider time, ILogger<RedisRateLimitConnection> logger)
    {
        _redis = redis;
        _logger = logger;
        _metrics = metrics;
        Clock = new RedisClientClock(time, logger);
    }

    public bool IsConfigured => _redis.IsConfigured;

    public RedisCircuitBreaker Breaker { get; } = new(FailureThreshold, BreakDuration, MinFailureSpan);

    /// <summary>Client time for scripts, used only once the server refused <c>TIME</c> in a script.</summary>
    public RedisClientClock Clock { get; }

    /// <summary>The database when connected; null before the first connect finished or while disconnected.</summary>
    public IDatabase? Database => _redis.Multiplexer is { IsConnected: true } multiplexer ? multiplexer.GetDatabase() : null;

    /// <summary>
    /// Connects and loads the script into every primary's cache, so no decision pays for the edge's own warm-up.
    /// Returns false when Redis could not be reached (the outage modes apply until it can).
    /// </summary>
    public async Task<bool> WarmUpAsync(CancellationToken cancellationToken)
    {
        var multiplexer = await _redis.ConnectAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (multiplexer is not { IsConnected: true })
        {
            return false;
        }

        var primaries = multiplexer.GetServers().Where(server => server.IsConnected && !server.IsReplica).ToArray();
        await Task.WhenAll(primaries.Select(RedisRateLimitScript.LoadAsync)).WaitAsync(cancellationToken).ConfigureAwait(false);

        // One call through the decision path that asks for nothing (writes nothing): the first real decision must not
        // pay for compiling this path, or it could miss its deadline on the edge's own start-up.
        await TakeManyAsync(multiplexer.GetDatabase(), WarmUpPolicy, "~warm-up", [new BucketRequest(0, 0)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// One script call for one or more requests on one key. The first refusal of <c>TIME</c> switches this connection
    /// to offset-corrected client time and retries once with it; from then on every call passes client time.
    /// </summary>
    public async Task<BucketResult[]> TakeManyAsync(IDatabaseAsync database, RateLimitPolicy policy, string partition, IReadOnlyList<BucketRequest> requests)
    {
        var clientTime = await Clock.NowAsync(database).ConfigureAwait(false);
        try
        {
            var results = await RedisRateLimitScript.TakeManyAsync(database, policy, partition, requests, clientTime).ConfigureAwait(false);
            Answered();
            return results;
        }
        catch (RedisServerException ex) when (clientTime is null && RedisClientClock.IsTimeRefusal(ex.Message))
        {
            Answered();
            Clock.Enable();
            clientTime = await Clock.NowAsync(database).ConfigureAwait(false);
            var results = await RedisRateLimitScript.TakeManyAsync(database, policy, partition, requests, clientTime).ConfigureAwait(false);
            Answered();
            return results;
        }
        catch (RedisServerException)
        {
            Answered();
            throw;
        }
    }

    /// <summary>
    /// Waits for a call sent at <paramref name="sentAt"/> (a Stopwatch timestamp taken when the command was handed to
    /// the connection, after any queueing of the request itself). The call is given up
    /// (<see cref="RateLimitFallbackReason.NoAnswer"/>) only when Redis showed no progress at all for a whole
    /// <paramref name="deadline"/>: a blackholed server. Progress is any answer to any rate-limit call, or the
    /// multiplexer's own count of completed commands moving, or answers already read but still queued for a busy
    /// thread pool; a wake-up that itself came late (CPU queueing on a busy edge) also counts as "cannot tell, keep
    /// waiting". While there is progress the wait goes on, up to <see cref="BusyCeiling"/>.
    /// </summary>
    public async ValueTask<RateLimitFallbackReason> AwaitAnswerAsync(Task call, long sentAt, TimeSpan deadline)
    {
        var deadlineTicks = (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        var step = Math.Max(1, deadlineTicks / 2);
        var ceiling = sentAt + (long)(Math.Max(BusyCeiling.TotalSeconds, deadline.TotalSeconds) * Stopwatch.Frequency);
        var silentSince = sentAt;
        var lastWake = sentAt;
        long? completionsBefore = null;
        var lateWakeUps = 0;
        var wakeAt = sentAt + step;
        while (true)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), wakeAt);
            await call.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.FromTicks(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (call.IsCompleted)
            {
                return RateLimitFallbackReason.None;
            }

            var now = Stopwatch.GetTimestamp();
            if (now >= ceiling)
            {
                return RateLimitFallbackReason.Overloaded;
            }

            var completions = Completions(out var readButQueued);
            var progress = Volatile.Read(ref _lastAnswer) > lastWake
                || readButQueued > 0
                || (completionsBefore is { } before && completions > before);
            // A wake-up that comes late means this process was starved (CPU queueing, a GC pause that also froze the
            // client's reader): what it saw is not evidence of silence. A few extra steps absorb that, but a blackhole
            // on a starved host must still end well before the ceiling.
            var wokeLate = now - wakeAt > step / 4 && ++lateWakeUps <= MaxLateWakeUps;
            if (progress || wokeLate)
            {
                silentSince = now;
            }
            else if (now - silentSince >= deadlineTicks)
            {
                return RateLimitFallbackReason.NoAnswer;
            }

            completionsBefore = completions;
            lastWake = now;
            wakeAt = Math.Min(now + step, ceiling);
        }
    }

    /// <summary>Commands the multiplexer has completed (counted on its reader, not on the thread pool).</summary>
    private long Completions(out long readButQueued)
    {
        long completed = 0;
        readButQueued = 0;
        if (_redis.Multiplexer is not { } multiplexer)
        {
            return 0;
        }

        foreach (var server in multiplexer.GetServers())
        {
            var counters = server.GetCounters().Interactive;
            completed += counters.CompletedSynchronously + counters.CompletedAsynchronously + counters.FailedAsynchronously;
            readButQueued += counters.ResponsesAwaitingAsyncCompletion;
        }

        return completed;
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

    public void OnFailure(bool isProbe, RateLimitFallbackReason reason)
    {
        if (Breaker.OnFailure(isProbe))
        {
            _metrics.Breaker("open");
            Log.BreakerOpened(_logger, RateLimitMetrics.ReasonTag(reason), Breaker.BreakDuration.TotalMilliseconds);
        }
    }

    private void Answered() => Volatile.Write(ref _lastAnswer, Stopwatch.GetTimestamp());

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Rate limiting: Redis unavailable ({Reason}); outage modes apply, next probe in {BreakMs} ms")]
        public static partial void BreakerOpened(ILogger logger, string reason, double breakMs);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Rate limiting: Redis answered again; shared limiting resumed")]
        public static partial void BreakerClosed(ILogger logger);
    }
}
