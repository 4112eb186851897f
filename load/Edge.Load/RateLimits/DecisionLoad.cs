using System.Diagnostics;
using Edge.Proxy.RateLimiting;

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
    /// that sleeps 1 ms whenever nothing is due and then starts everything that came due meanwhile. A spinning
    /// dispatcher would take one of the host's two cores from the limiter and Redis (the first runs did, and their
    /// "80% of saturation" was beyond what was left); the price is that a decision's latency, counted from its intended
    /// start, includes up to about a millisecond of timer granularity. The service time (from the actual call) does not.
    /// Returns once every decision was answered.
    /// </summary>
    public static async Task<long> OpenAsync(Decide decide, double rate, TimeSpan duration, RecordDecision record, CancellationToken cancellationToken)
    {
        var total = (long)(rate * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / rate;
        var pending = new List<Task>();
        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dispatcher = new Thread(() =>
        {
            try
            {
                var start = Stopwatch.GetTimestamp();
                long issued = 0;
                while (issued < total && !cancellationToken.IsCancellationRequested)
                {
                    var now = Stopwatch.GetTimestamp();
                    var due = Math.Min(total, (long)((now - start) / interval) + 1);
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
                            pending.Add(AwaitAsync(call, intended, sent, record));
                        }
                    }

                    if (start + (long)(issued * interval) > Stopwatch.GetTimestamp())
                    {
                        Thread.Sleep(1);
                    }
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
        await Task.WhenAll(pending).ConfigureAwait(false);
        return total;
    }

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static async Task AwaitAsync(ValueTask<RateLimitDecision> call, long intended, long sent, RecordDecision record)
    {
        var decision = await call.ConfigureAwait(false);
        record(intended, sent, Stopwatch.GetTimestamp(), decision);
    }
}
