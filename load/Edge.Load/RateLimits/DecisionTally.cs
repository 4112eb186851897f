using System.Diagnostics;
using Edge.Proxy.RateLimiting;
using HdrHistogram;

namespace Edge.Load.RateLimits;

/// <summary>
/// Latencies (HdrHistogram, nanoseconds, 3 significant digits) and outcomes of a set of decisions. <see cref="Latency"/>
/// counts from the intended start (corrected for coordinated omission), <see cref="ServiceTime"/> from the actual call,
/// and <see cref="GeneratorLag"/> is the part between the two: how late the generator itself started the call (timer
/// granularity, the dispatcher waiting for a core). Latency = lag + service, decision by decision.
/// </summary>
internal sealed class DecisionTally
{
    private const long HighestNanoseconds = 600L * 1_000_000_000;
    private readonly long[] _fallbacksByReason = new long[Enum.GetValues<RateLimitFallbackReason>().Length];
    private long _decisions;
    private long _admitted;
    private long _fallbacks;

    public LongConcurrentHistogram Latency { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram ServiceTime { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram GeneratorLag { get; } = new(1, HighestNanoseconds, 3);

    public long Decisions => Interlocked.Read(ref _decisions);

    public long Admitted => Interlocked.Read(ref _admitted);

    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public void Record(long intended, long sent, long answered, in RateLimitDecision decision)
    {
        Latency.RecordValue(Nanoseconds(answered - intended));
        ServiceTime.RecordValue(Nanoseconds(answered - sent));
        GeneratorLag.RecordValue(Nanoseconds(sent - intended));
        Interlocked.Increment(ref _decisions);
        if (decision.Admitted)
        {
            Interlocked.Increment(ref _admitted);
        }

        if (decision.IsFallback)
        {
            Interlocked.Increment(ref _fallbacks);
            Interlocked.Increment(ref _fallbacksByReason[(int)decision.FallbackReason]);
        }
    }

    /// <summary>Microseconds at <paramref name="percentile"/> of the corrected latency.</summary>
    public double LatencyMicroseconds(double percentile) => Decisions == 0 ? double.NaN : Latency.GetValueAtPercentile(percentile) / 1000.0;

    public double ServiceMicroseconds(double percentile) => Decisions == 0 ? double.NaN : ServiceTime.GetValueAtPercentile(percentile) / 1000.0;

    public double LagMicroseconds(double percentile) => Decisions == 0 ? double.NaN : GeneratorLag.GetValueAtPercentile(percentile) / 1000.0;

    public double MaxMicroseconds => Decisions == 0 ? double.NaN : Latency.GetMaxValue() / 1000.0;

    /// <summary>Fallbacks by reason as the metric tags (<c>no_answer=12 breaker_open=900</c>), or <c>0</c>.</summary>
    public string FallbacksByReason()
    {
        var parts = Enum.GetValues<RateLimitFallbackReason>()
            .Where(r => r != RateLimitFallbackReason.None && Interlocked.Read(ref _fallbacksByReason[(int)r]) > 0)
            .Select(r => $"{RateLimitMetrics.ReasonTag(r)}={Interlocked.Read(ref _fallbacksByReason[(int)r])}")
            .ToArray();
        return parts.Length == 0 ? "0" : string.Join(' ', parts);
    }

    public long FallbacksFor(RateLimitFallbackReason reason) => Interlocked.Read(ref _fallbacksByReason[(int)reason]);

    private static long Nanoseconds(long ticks) =>
        Math.Clamp((long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency)), 0, HighestNanoseconds);
}
