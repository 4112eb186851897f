namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Where one strict decision on Redis spent its time (Stopwatch timestamps), reported to
/// <see cref="EdgeRateLimiter.PhaseTrace"/> when a benchmark sets it (off otherwise: no timestamps are taken).
/// <list type="bullet">
/// <item><see cref="Arrived"/> → <see cref="Sent"/>: waiting for the key's script call (coalescing) and building it.</item>
/// <item><see cref="Sent"/> → <see cref="Read"/>: the client's writer, the wire, Redis and the client's reader.</item>
/// <item><see cref="Read"/> → <see cref="Resumed"/>: the hop from the client's reader to the limiter's continuation.</item>
/// <item><see cref="Resumed"/> → <see cref="Completed"/>: the limiter handing out the batch's results.</item>
/// <item><see cref="Completed"/> → <see cref="Continued"/>: the hop to the decision's own caller.</item>
/// </list>
/// </summary>
/// <param name="ReadOnReader">The answer was seen on the client's own reader thread (not a thread-pool thread), so
/// <see cref="Read"/> is when it was read, not when a pool thread got to it.</param>
/// <param name="BatchSize">Decisions in the script call this decision was part of.</param>
internal readonly record struct StrictDecisionPhases(
    long Arrived, long Sent, long Read, bool ReadOnReader, long Resumed, long Completed, long Continued, int BatchSize);
