namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The Redis command a rate-limit call is waiting for, as the client's reader sees it. StackExchange.Redis completes a
/// command's task on its reader as soon as the answer is read and runs every continuation on the thread pool
/// (<see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>), so on a busy edge the call's own continuation
/// can wait far longer than Redis took to answer. <see cref="Answered"/> tells that queueing from a silent server.
/// </summary>
internal sealed class RedisCommandWatch(bool tracePhases = false)
{
    private Task? _command;
    private long _sentAt;
    private long _readAt;
    private int _readOnReader;

    /// <summary>The command now on the wire (a retry after NOSCRIPT or a redirection replaces the previous one).</summary>
    public void Sent(Task command)
    {
        if (tracePhases)
        {
            Volatile.Write(ref _sentAt, System.Diagnostics.Stopwatch.GetTimestamp());
            // Runs where the client completes the command: on its reader thread unless it forces continuations
            // onto the thread pool (then ReadOnReader is false and ReadAt includes that hop).
            _ = command.ContinueWith(
                static (_, state) =>
                {
                    var watch = (RedisCommandWatch)state!;
                    Volatile.Write(ref watch._readOnReader, Thread.CurrentThread.IsThreadPoolThread ? 0 : 1);
                    Volatile.Write(ref watch._readAt, System.Diagnostics.Stopwatch.GetTimestamp());
                },
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        Volatile.Write(ref _command, command);
    }

    /// <summary>With phase tracing: when the last command was handed to the client (Stopwatch ticks), else 0.</summary>
    public long SentAt => Volatile.Read(ref _sentAt);

    /// <summary>With phase tracing: when the client completed the last command (Stopwatch ticks), else 0.</summary>
    public long ReadAt => Volatile.Read(ref _readAt);

    public bool ReadOnReader => Volatile.Read(ref _readOnReader) == 1;

    /// <summary>Redis answered the command on the wire (or the client failed it); only this edge's threads are left.</summary>
    public bool Answered => Volatile.Read(ref _command) is { IsCompleted: true };
}
