namespace Edge.Audit.Spool;

/// <summary>
/// Append times of the records the writer has not acknowledged, oldest first: the source of
/// edge_audit_oldest_unacked_seconds. Filled by recovery and the write path, drained by acknowledgements.
/// </summary>
/// <remarks>
/// A ring that doubles when full (and halves once drained below a quarter), reused in between, not a <c>ConcurrentQueue</c>: the queue drops every segment it
/// has drained and allocates a new one, about 24 bytes per record, and the write path adds one entry per request.
/// </remarks>
internal sealed class SpoolBacklog(TimeProvider time)
{
    private const int InitialCapacity = 256;

    private readonly Lock _gate = new();
    private (long Sequence, long UnixMs)[] _ring = new (long, long)[InitialCapacity];
    private int _head;
    private int _count;

    public void Add(long sequence, long unixMs)
    {
        lock (_gate)
        {
            if (_count == _ring.Length)
            {
                Resize(_ring.Length * 2);
            }

            _ring[(_head + _count) % _ring.Length] = (sequence, unixMs);
            _count++;
        }
    }

    /// <summary>Drops the entries up to <paramref name="sequence"/> and returns how many there were.</summary>
    public int ReleaseThrough(long sequence)
    {
        var released = 0;
        lock (_gate)
        {
            while (_count > 0 && _ring[_head].Sequence <= sequence)
            {
                _head = (_head + 1) % _ring.Length;
                _count--;
                released++;
            }

            // After a long writer outage the ring was large: give the memory back once the backlog has drained.
            if (_ring.Length > InitialCapacity && _count <= _ring.Length / 4)
            {
                Resize(_ring.Length / 2);
            }
        }

        return released;
    }

    public double OldestAgeSeconds()
    {
        long oldest;
        lock (_gate)
        {
            if (_count == 0)
            {
                return 0;
            }

            oldest = _ring[_head].UnixMs;
        }

        return Math.Max(0, (time.GetUtcNow().ToUnixTimeMilliseconds() - oldest) / 1000.0);
    }

    private void Resize(int capacity)
    {
        var resized = new (long, long)[capacity];
        for (var i = 0; i < _count; i++)
        {
            resized[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = resized;
        _head = 0;
    }
}
