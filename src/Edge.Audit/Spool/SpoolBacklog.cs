using System.Collections.Concurrent;

namespace Edge.Audit.Spool;

/// <summary>
/// Append times of the records the writer has not acknowledged, oldest first: the source of
/// edge_audit_oldest_unacked_seconds. Filled by recovery and the writer loop, drained by acknowledgements.
/// </summary>
internal sealed class SpoolBacklog(TimeProvider time)
{
    private readonly ConcurrentQueue<(long Sequence, long UnixMs)> _unacked = new();

    public void Add(long sequence, long unixMs) => _unacked.Enqueue((sequence, unixMs));

    public void ReleaseThrough(long sequence)
    {
        while (_unacked.TryPeek(out var head) && head.Sequence <= sequence)
        {
            _unacked.TryDequeue(out _);
        }
    }

    public double OldestAgeSeconds() =>
        _unacked.TryPeek(out var head)
            ? Math.Max(0, (time.GetUtcNow().ToUnixTimeMilliseconds() - head.UnixMs) / 1000.0)
            : 0;
}
