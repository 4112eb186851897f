using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using HdrHistogram;

namespace Edge.Load.Stats;

/// <summary>Latency (µs, HdrHistogram), count, bytes and status codes of one outcome (ok or fail) of one step.</summary>
internal sealed class OutcomeStats
{
    /// <summary>
    /// 25 h: the longest --timeout (24 h) and the drain's grace after it. At 10 min, a response after 20 min (with
    /// --timeout 30m) was recorded as 10 min, in max, mean and every percentile. Three significant digits over this range
    /// take about 240 KB per histogram.
    /// </summary>
    internal const long HighestTrackableMicros = 25L * 60 * 60 * 1_000_000;
    private const int SignificantDigits = 3;

    // A short lock around a plain histogram swapped out once per sample: simpler than a phaser-based Recorder,
    // and an uncontended lock costs tens of nanoseconds, far below one HTTP round trip.
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _statusCodes = new(StringComparer.Ordinal);
    private HistogramBase _interval = NewHistogram();
    private HistogramBase _spare = NewHistogram();
    private long _count;
    private long _bytes;
    private long _minMicros = long.MaxValue;
    private long _sumMicros;

    /// <summary>Everything drained so far; only touched by the sampling thread.</summary>
    internal HistogramBase Total { get; } = NewHistogram();

    internal static HistogramBase NewHistogram() => new LongHistogram(1, HighestTrackableMicros, SignificantDigits);

    internal long Count => Interlocked.Read(ref _count);

    internal long Bytes => Interlocked.Read(ref _bytes);

    internal long MinMicros => Count == 0 ? 0 : Interlocked.Read(ref _minMicros);

    /// <summary>
    /// Exact, like the minimum: the histogram's mean averages its buckets' middles, so one response of 8298.175 ms
    /// reported a mean of 8296.448 ms, below the min beside it.
    /// </summary>
    internal double MeanMicros
    {
        get
        {
            var sum = Interlocked.Read(ref _sumMicros);
            var count = Count;
            return count == 0 ? 0 : sum / (double)count;
        }
    }

    internal void Record(long micros, long bytes, string statusCode)
    {
        var value = Math.Clamp(micros, 1, HighestTrackableMicros);
        lock (_lock)
        {
            _interval.RecordValue(value);
        }

        Interlocked.Add(ref _sumMicros, value);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _bytes, bytes);
        var min = Interlocked.Read(ref _minMicros);
        while (value < min)
        {
            var seen = Interlocked.CompareExchange(ref _minMicros, value, min);
            if (seen == min)
            {
                break;
            }

            min = seen;
        }

        Interlocked.Increment(ref _statusCodes.GetOrAdd(statusCode, static _ => new StrongBox<long>()).Value);
    }

    /// <summary>Moves what was recorded since the last call into <see cref="Total"/> and returns that interval.</summary>
    internal HistogramBase DrainInterval()
    {
        _spare.Reset();
        HistogramBase interval;
        lock (_lock)
        {
            interval = _interval;
            _interval = _spare;
        }

        _spare = interval;
        Total.Add(interval);
        return interval;
    }

    internal IReadOnlyList<KeyValuePair<string, long>> StatusCodes() =>
        [.. _statusCodes.Select(static p => KeyValuePair.Create(p.Key, Interlocked.Read(ref p.Value.Value))).OrderByDescending(static p => p.Value).ThenBy(static p => p.Key, StringComparer.Ordinal)];
}
