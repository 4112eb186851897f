namespace Edge.Load.Cli;

/// <summary>
/// Ctrl+C and SIGTERM: the first stops the load and keeps the process alive to write the reports; another one ends the
/// process, unless it comes within <see cref="SameStop"/> of the first. timeout(1) signals the tool and then its whole
/// process group, so one stop arrived as two SIGTERMs microseconds apart and the second ended the run without a report
/// (exit 143) whenever the first had already been handled.
/// </summary>
internal sealed class StopRequests(CancellationTokenSource cancel, TimeProvider time)
{
    internal static readonly TimeSpan SameStop = TimeSpan.FromSeconds(1);

    private long _firstAt = long.MinValue;

    /// <summary>Called for each signal; true when the process should stay alive (the signal's default action cancelled).</summary>
    public bool Stop()
    {
        var now = time.GetTimestamp();
        var first = Interlocked.CompareExchange(ref _firstAt, now, long.MinValue);
        if (first == long.MinValue)
        {
            cancel.Cancel();
            return true;
        }

        return time.GetElapsedTime(first, now) < SameStop;
    }
}
