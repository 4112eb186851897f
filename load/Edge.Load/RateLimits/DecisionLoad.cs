using System.Diagnostics;
using Edge.Proxy.RateLimiting;
using HdrHistogram;

namespace Edge.Load.RateLimits;

/// <summary>One decision of the load: the sequence number picks the instance and the key.</summary>
internal delegate ValueTask<RateLimitDecision> Decide(long sequence);

/// <summary>What one decision took: when it should have started (open model), was sent and was answered (Stopwatch ticks).</summary>
internal delegate void RecordDecision(long intended, long sent, long answered, in RateLimitDecision decision);

/// <summary>
/// Drives <see cref="EdgeRateLimiter.DecideAsync"/> directly: a closed model (N copies, each awaiting its decision
/// before the next) for throughput, and an open model (a fixed rate, decisions started whether or not earlier ones
/// were answered) for latency, measured from each decision's intended start so a stalled limiter cannot hide its
/// stall by delaying the next send (coordinated omission).
/// </summary>
/// <summary>What the open model's dispatcher did: decisions issued per wake-up, and its own thread's CPU time (-1 when unknown).</summary>
internal sealed class DispatcherStats
{
    public LongConcurrentHistogram Bursts { get; } = new(1, 100_000_000, 3);

    public long CpuNanoseconds { get; set; } = -1;
}

/// <summary>How the open model's dispatcher waits for the next decision (<see cref="DecisionLoad.OpenAsync"/>).</summary>
internal enum Generator
{
    Paced,
    Sleep1,
}

internal static class DecisionLoad
{
    public static async Task<TimeSpan> ClosedAsync(Decide decide, int copies, TimeSpan duration, RecordDecision record, CancellationToken cancellationToken)
    {
        long sequence = 0;
        var start = Stopwatch.GetTimestamp();
        var stopAt = start + Ticks(duration);
        await Task.WhenAll(Enumerable.Range(0, copies).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < stopAt && !cancellationToken.IsCancellationRequested)
            {
                var sent = Stopwatch.GetTimestamp();
                var decision = await decide(Interlocked.Increment(ref sequence)).ConfigureAwait(false);
                record(sent, sent, Stopwatch.GetTimestamp(), decision);
            }
        }, cancellationToken))).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>
    /// Starts <paramref name="rate"/> decisions per second for <paramref name="duration"/> from one dispatcher thread
    /// and returns once every decision was answered. Each decision's intended start is fixed by the schedule; whatever
    /// the dispatcher issues late still counts from there (coordinated omission), and how many decisions each wake-up
    /// of the dispatcher issued is recorded in <paramref name="bursts"/>.
    /// <list type="bullet">
    /// <item><see cref="Generator.Paced"/>: the dispatcher sleeps with a fine-grained timer (Linux
    /// <c>clock_nanosleep</c> with 1 µs timer slack) until the next decision is due and issues what is due, so a
    /// wake-up issues the few decisions the kernel's wake-up latency lets fall due, not a millisecond's worth. Bursts
    /// larger than that come only from the dispatcher itself being descheduled (its lag says so).</item>
    /// <item><see cref="Generator.Sleep1"/> (the harness before Run G): <c>Thread.Sleep(1)</c> whenever nothing is
    /// due, then everything that came due meanwhile: bursts of about rate × 1.1 ms by construction.</item>
    /// </list>
    /// Neither spins: a spinning dispatcher would take one of the host's two cores from the limiter and Redis.
    /// </summary>
    public static async Task<long> OpenAsync(
        Decide decide, double rate, TimeSpan duration, RecordDecision record, CancellationToken cancellationToken,
        Generator generator = Generator.Paced, DispatcherStats? stats = null, TimeSpan paceMin = default)
    {
        var total = (long)(rate * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / rate;
        // Decisions in flight are counted, not kept: a list of every decision's task (the harness before Run G) kept
        // a whole run's tasks alive, promoted them to gen1/gen2 and cost the process (limiter included) 0.2-1.1 s of
        // GC pauses per 5 s run at 20-50k decisions/s.
        var outstanding = new Outstanding();
        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dispatcher = new Thread(() =>
        {
            try
            {
                var paced = generator == Generator.Paced && FineSleep.TryEnable();
                var cpuAtStart = FineSleep.ThreadCpuNanoseconds();
                var minWait = DecisionLoad.Ticks(paceMin);
                var start = Stopwatch.GetTimestamp();
                long issued = 0;
                while (issued < total && !cancellationToken.IsCancellationRequested)
                {
                    var now = Stopwatch.GetTimestamp();
                    var due = Math.Min(total, (long)((now - start) / interval) + 1);
                    if (due > issued)
                    {
                        stats?.Bursts.RecordValue(due - issued);
                    }

                    for (; issued < due; issued++)
                    {
                        var intended = start + (long)(issued * interval);
                        var sent = Stopwatch.GetTimestamp();
                        var call = decide(issued);
                        if (call.IsCompletedSuccessfully)
                        {
                            record(intended, sent, Stopwatch.GetTimestamp(), call.Result);
                        }
                        else
                        {
                            outstanding.Add();
                            _ = AwaitAsync(call, intended, sent, record, outstanding);
                        }
                    }

                    var next = start + (long)(issued * interval);
                    var wait = next - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        if (paced)
                        {
                            FineSleep.For(Math.Max(wait, minWait));
                        }
                        else
                        {
                            Thread.Sleep(1);
                        }
                    }
                }

                if (stats is not null && cpuAtStart >= 0 && FineSleep.ThreadCpuNanoseconds() is var cpuAtEnd and >= 0)
                {
                    stats.CpuNanoseconds = cpuAtEnd - cpuAtStart;
                }

                dispatched.SetResult();
            }
            catch (Exception ex)
            {
                dispatched.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "decision-dispatcher",
        };
        dispatcher.Start();
        await dispatched.Task.ConfigureAwait(false);
        await outstanding.AllDoneAsync().ConfigureAwait(false);
        return total;
    }

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static async Task AwaitAsync(ValueTask<RateLimitDecision> call, long intended, long sent, RecordDecision record, Outstanding outstanding)
    {
        try
        {
            var decision = await call.ConfigureAwait(false);
            record(intended, sent, Stopwatch.GetTimestamp(), decision);
            outstanding.Done(null);
        }
        catch (Exception ex)
        {
            outstanding.Done(ex);
        }
    }

    /// <summary>Decisions of the open model still in flight; <see cref="AllDoneAsync"/> completes once none is (or fails with the first error).</summary>
    private sealed class Outstanding
    {
        private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count = 1;

        public void Add() => Interlocked.Increment(ref _count);

        public void Done(Exception? error)
        {
            if (error is not null)
            {
                _allDone.TrySetException(error);
            }

            if (Interlocked.Decrement(ref _count) == 0)
            {
                _allDone.TrySetResult();
            }
        }

        /// <summary>Called once, after the last decision was issued.</summary>
        public Task AllDoneAsync()
        {
            Done(null);
            return _allDone.Task;
        }
    }
}
