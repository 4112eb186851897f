using System.Diagnostics;
using Edge.Proxy.RateLimiting;
using HdrHistogram;

namespace Edge.Load.RateLimits;

/// <summary>
/// Where strict decisions spent their time (<see cref="StrictDecisionPhases"/>, the limiter's debug switch), as
/// HdrHistograms in nanoseconds: waiting for the key's call (coalescing), Redis (client writer, wire, server, client
/// reader), the hop from the client's reader to the limiter, the limiter handing out results, and the hop to the caller.
/// </summary>
internal sealed class PhaseTally
{
    private const long HighestNanoseconds = 600L * 1_000_000_000;
    private long _traced;
    private long _readOnReader;
    private long _readUnseen;

    public LongConcurrentHistogram Coalescing { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram Redis { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram ReaderHop { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram Handout { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram CallerHop { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram BatchSize { get; } = new(1, 1_000_000, 3);

    // The client's own profiler (StackExchange.Redis IProfiledCommand) of the script calls: waiting for its writer,
    // sent → answer read (the wire and redis-server), answer read → the command's task completed.
    public LongConcurrentHistogram ClientWriterQueue { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram ClientSentToResponse { get; } = new(1, HighestNanoseconds, 3);

    public LongConcurrentHistogram ClientResponseToCompletion { get; } = new(1, HighestNanoseconds, 3);

    public long ProfiledCommands => ClientSentToResponse.TotalCount;

    public void RecordProfiled(IEnumerable<StackExchange.Redis.Profiling.IProfiledCommand> commands)
    {
        foreach (var command in commands)
        {
            if (!command.Command.StartsWith("EVAL", StringComparison.Ordinal))
            {
                continue;
            }

            ClientWriterQueue.RecordValue(Nanoseconds(command.EnqueuedToSending));
            ClientSentToResponse.RecordValue(Nanoseconds(command.SentToResponse));
            ClientResponseToCompletion.RecordValue(Nanoseconds(command.ResponseToCompletion));
        }
    }

    private static long Nanoseconds(TimeSpan span) => Math.Clamp(span.Ticks * 100, 0, HighestNanoseconds);

    public long Traced => Interlocked.Read(ref _traced);

    /// <summary>Decisions whose answer was seen on the client's own reader thread (else on a pool thread, after a hop).</summary>
    public long ReadOnReader => Interlocked.Read(ref _readOnReader);

    /// <summary>Decisions resumed before the answer's own continuation ran (the read time is then unknown).</summary>
    public long ReadUnseen => Interlocked.Read(ref _readUnseen);

    public void Record(StrictDecisionPhases p)
    {
        Interlocked.Increment(ref _traced);
        Coalescing.RecordValue(Nanoseconds(p.Sent - p.Arrived));
        if (p.Read == 0 || p.Read > p.Resumed)
        {
            // The answer's continuation had not run when the limiter resumed: Redis and the hop are one figure.
            Interlocked.Increment(ref _readUnseen);
            Redis.RecordValue(Nanoseconds(p.Resumed - p.Sent));
            ReaderHop.RecordValue(0);
        }
        else
        {
            Redis.RecordValue(Nanoseconds(p.Read - p.Sent));
            ReaderHop.RecordValue(Nanoseconds(p.Resumed - p.Read));
        }

        if (p.ReadOnReader)
        {
            Interlocked.Increment(ref _readOnReader);
        }

        Handout.RecordValue(Nanoseconds(p.Completed - p.Resumed));
        CallerHop.RecordValue(Nanoseconds(p.Continued - p.Completed));
        BatchSize.RecordValue(Math.Max(1, p.BatchSize));
    }

    /// <summary>p50 / p99 in µs of one phase, or "-" when nothing was traced.</summary>
    public string Percentiles(LongConcurrentHistogram phase) =>
        phase.TotalCount == 0 ? "-" : FormattableString.Invariant($"{phase.GetValueAtPercentile(50) / 1000.0:F0} / {phase.GetValueAtPercentile(99) / 1000.0:F0}");

    private static long Nanoseconds(long ticks) =>
        Math.Clamp((long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency)), 0, HighestNanoseconds);
}
