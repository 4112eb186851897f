namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The Redis command a rate-limit call is waiting for, as the client's reader sees it. StackExchange.Redis completes a
/// command's task on its reader as soon as the answer is read and runs every continuation on the thread pool
/// (<see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>), so on a busy edge the call's own continuation
/// can wait far longer than Redis took to answer. <see cref="Answered"/> tells that queueing from a silent server.
/// </summary>
internal sealed class RedisCommandWatch
{
    private Task? _command;

    /// <summary>The command now on the wire (a retry after NOSCRIPT or a redirection replaces the previous one).</summary>
    public void Sent(Task command) => Volatile.Write(ref _command, command);

    /// <summary>Redis answered the command on the wire (or the client failed it); only this edge's threads are left.</summary>
    public bool Answered => Volatile.Read(ref _command) is { IsCompleted: true };
}
