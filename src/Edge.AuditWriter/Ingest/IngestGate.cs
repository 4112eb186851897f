using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Ingest;

/// <summary>
/// Bounds the ingest batches the writer holds at once (Writer:MaxConcurrentIngests): each one is read whole into memory
/// (up to Writer:MaxIngestBytes), parsed into a copy per record, and kept until its commit. Without a bound, a token
/// holder (or any local process when there is no ingest token) could open connections until the writer ran out of
/// memory. A batch over the bound is refused before its body is read; the edge's shipper retries it on the same writer.
/// </summary>
internal sealed partial class IngestGate(IOptions<WriterOptions> options, TimeProvider time, ILogger<IngestGate> logger)
{
    // A flood of refusals is one line a minute, with how many there were.
    private static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly int _max = options.Value.MaxConcurrentIngests;
    private readonly Lock _logLock = new();
    private int _active;
    private long _unlogged;
    private DateTimeOffset _nextLog = DateTimeOffset.MinValue;

    /// <summary>Batches being read, parsed or waiting for their commit now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>A slot for one batch, released when disposed; null when all are taken (answer 503 ingest_busy).</summary>
    public IDisposable? TryEnter()
    {
        if (Interlocked.Increment(ref _active) <= _max)
        {
            return new Slot(this);
        }

        Interlocked.Decrement(ref _active);
        NoteRefused();
        return null;
    }

    private void NoteRefused()
    {
        var now = time.GetUtcNow();
        long refused;
        lock (_logLock)
        {
            _unlogged++;
            if (now < _nextLog)
            {
                return;
            }

            refused = _unlogged;
            _unlogged = 0;
            _nextLog = now + LogInterval;
        }

        Log.Busy(logger, refused, _max);
    }

    private sealed class Slot(IngestGate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Decrement(ref gate._active);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2152, LogLevel.Warning, "Refused {Refused} ingest batches with 503 ingest_busy: {Max} batches were already being read or stored (Writer:MaxConcurrentIngests); the edges retry them. Logged at most once a minute")]
        public static partial void Busy(ILogger logger, long refused, int max);
    }
}
