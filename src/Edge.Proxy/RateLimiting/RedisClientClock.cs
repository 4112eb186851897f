using System.Diagnostics;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The fallback clock for servers that refuse <c>TIME</c> inside scripts (Redis before 3.2, or a script-effects
/// replication setup that forbids writes after a non-deterministic command): the edge's clock corrected by the offset
/// to the server's clock, measured with a plain <c>TIME</c> round trip as
/// <c>offset = serverTime - (sendTime + receiveTime) / 2</c> and measured again in the background every
/// <see cref="RemeasureEvery"/>. Several edges then agree with the server to within half a round trip plus drift; the
/// script keeps <c>max(stored, now)</c>, so a clock that jumps back never moves a stored timestamp backwards.
/// </summary>
internal sealed partial class RedisClientClock(TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan RemeasureEvery = TimeSpan.FromSeconds(30);

    private volatile bool _enabled;
    private long _offsetMicroseconds;
    private long _measuredAt;
    private int _measuring;

    /// <summary>True once the server refused <c>TIME</c> in a script (or a test forced it): scripts get client time.</summary>
    public bool IsEnabled => _enabled;

    /// <summary>Server clock minus edge clock, in microseconds, as last measured.</summary>
    public long OffsetMicroseconds => Interlocked.Read(ref _offsetMicroseconds);

    /// <summary>
    /// The script error of a server that does not accept <c>TIME</c> before a write, e.g. Redis &lt; 3.2:
    /// "Write commands not allowed after non deterministic commands".
    /// </summary>
    public static bool IsTimeRefusal(string message) =>
        message.Contains("non deterministic", StringComparison.OrdinalIgnoreCase)
        || message.Contains("nondeterministic", StringComparison.OrdinalIgnoreCase)
        || (message.Contains("TIME", StringComparison.Ordinal) && message.Contains("not allowed", StringComparison.OrdinalIgnoreCase));

    /// <summary>Switches to client time (also the test switch: Redis 7 accepts TIME in scripts, so the refusal cannot be provoked).</summary>
    public void Enable()
    {
        if (!_enabled)
        {
            _enabled = true;
            Log.ClientTimeEnabled(logger);
        }
    }

    /// <summary>Corrected client time in Unix microseconds, or null while the server's own TIME is used.</summary>
    public async ValueTask<long?> NowAsync(IDatabaseAsync database)
    {
        if (!_enabled)
        {
            return null;
        }

        var measuredAt = Interlocked.Read(ref _measuredAt);
        if (measuredAt == 0)
        {
            await MeasureAsync(database).ConfigureAwait(false);
        }
        else if (Stopwatch.GetElapsedTime(measuredAt) > RemeasureEvery && Interlocked.CompareExchange(ref _measuring, 1, 0) == 0)
        {
            // Never on the decision's path: the current offset serves until the new one is in.
            _ = Task.Run(async () =>
            {
                try
                {
                    await MeasureAsync(database).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
                {
                    Log.OffsetMeasureFailed(logger, ex.GetType().Name);
                }
                finally
                {
                    Volatile.Write(ref _measuring, 0);
                }
            });
        }

        return UnixMicroseconds(time.GetUtcNow()) + OffsetMicroseconds;
    }

    public async Task MeasureAsync(IDatabaseAsync database)
    {
        var sent = time.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        var reply = (RedisResult[])(await database.ExecuteAsync("TIME").ConfigureAwait(false))!;
        var roundTrip = Stopwatch.GetElapsedTime(started);
        var server = (long)reply[0] * 1_000_000 + (long)reply[1];
        // (send + receive) / 2 on the wall clock, with the round trip from the monotonic clock.
        var midpoint = UnixMicroseconds(sent) + (long)(roundTrip.Ticks / 20.0);
        Interlocked.Exchange(ref _offsetMicroseconds, server - midpoint);
        Interlocked.Exchange(ref _measuredAt, Stopwatch.GetTimestamp());
        Log.OffsetMeasured(logger, (server - midpoint) / 1000.0, roundTrip.TotalMilliseconds);
    }

    private static long UnixMicroseconds(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Rate limiting: the Redis server refuses TIME in scripts; using edge time corrected by the measured offset")]
        public static partial void ClientTimeEnabled(ILogger logger);

        [LoggerMessage(EventId = 1303, Level = LogLevel.Debug, Message = "Rate limiting: Redis clock offset {OffsetMs} ms (round trip {RoundTripMs} ms)")]
        public static partial void OffsetMeasured(ILogger logger, double offsetMs, double roundTripMs);

        [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Rate limiting: measuring the Redis clock offset failed ({Reason}); keeping the previous offset")]
        public static partial void OffsetMeasureFailed(ILogger logger, string reason);
    }
}
