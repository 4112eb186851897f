namespace Edge.Proxy.Observability;

/// <summary>
/// At most one log line per <see cref="Interval"/> for an event a client can cause at will: the first caller after the
/// interval takes it, with the number skipped since the previous line. A line per event would let a scanner flood the
/// log the operator reads.
/// </summary>
internal sealed class LogWindow(TimeSpan interval)
{
    private long _nextTimestamp = long.MinValue;
    private long _skipped;

    public TimeSpan Interval { get; } = interval;

    public bool TryTake(TimeProvider time, out long skipped)
    {
        var now = time.GetTimestamp();
        var next = Volatile.Read(ref _nextTimestamp);
        var due = now + (long)(Interval.TotalSeconds * time.TimestampFrequency);
        if (now < next || Interlocked.CompareExchange(ref _nextTimestamp, due, next) != next)
        {
            Interlocked.Increment(ref _skipped);
            skipped = 0;
            return false;
        }

        skipped = Interlocked.Exchange(ref _skipped, 0);
        return true;
    }
}
