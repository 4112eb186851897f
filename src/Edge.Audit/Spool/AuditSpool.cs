using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace Edge.Audit.Spool;

/// <summary>
/// The edge's durable, append-only audit spool: segment files of checksummed frames, one group-commit
/// writer (see <see cref="SpoolDurability"/> for when an append completes), a persisted cumulative ack mark,
/// and deletion of whole segments only once they lie entirely below that mark.
/// </summary>
public sealed class AuditSpool : IAsyncDisposable
{
    private const string SegmentSuffix = ".seg";
    private const string AckFileName = "acked";

    private readonly SpoolOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<PendingAppend> _appends = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly object _segmentsLock = new();
    private readonly List<Segment> _segments = [];
    private readonly ConcurrentQueue<(long Sequence, long UnixMs)> _unacked = new();
    private readonly Task _writerLoop;
    private readonly string _ackPath;
    private FileStream? _active;
    private long _bytes;
    private long _reservedBytes;
    private long _nextSequence;
    private long _durableSequence;
    private long _ackedSequence;
    private volatile bool _closed;
    private TaskCompletionSource _durableChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _syncTimer;
    private bool _unsynced;

    private static readonly PendingAppend SyncMarker = new(ReadOnlyMemory<byte>.Empty, new TaskCompletionSource<bool>());

    private AuditSpool(SpoolOptions options, TimeProvider time, IMeterFactory? meterFactory)
    {
        _options = options;
        _time = time;
        _ackPath = Path.Combine(options.Directory, AckFileName);
        Directory.CreateDirectory(options.Directory);
        Recover();
        Metrics = new SpoolMetrics(() => Interlocked.Read(ref _bytes), OldestUnackedSeconds, meterFactory);
        _writerLoop = Task.Run(WriteLoopAsync);
    }

    public SpoolMetrics Metrics { get; }

    public long AckedSequence => Interlocked.Read(ref _ackedSequence);

    public long DurableSequence => Interlocked.Read(ref _durableSequence);

    public static AuditSpool Open(SpoolOptions options, TimeProvider? time = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new AuditSpool(options, time ?? TimeProvider.System, meterFactory);
    }

    /// <summary>
    /// Appends one record. Returns false at once when the size cap would be exceeded (or the spool is closed);
    /// otherwise completes with true once the record is written (<see cref="SpoolDurability.ProcessCrash"/>) or fsynced
    /// (<see cref="SpoolDurability.PowerLoss"/>).
    /// </summary>
    public Task<bool> TryAppendAsync(ReadOnlyMemory<byte> record)
    {
        if (record.Length == 0 || record.Length > SpoolFrame.MaxPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(record), record.Length, "A spooled record is 1 byte to 16 MiB.");
        }

        var frameBytes = SpoolFrame.HeaderSize + record.Length;
        var reserved = Interlocked.Add(ref _reservedBytes, frameBytes);
        if (_closed || Interlocked.Read(ref _bytes) + reserved > _options.MaxBytes)
        {
            Interlocked.Add(ref _reservedBytes, -frameBytes);
            return Task.FromResult(false);
        }

        var pending = new PendingAppend(record, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_appends.Writer.TryWrite(pending))
        {
            Interlocked.Add(ref _reservedBytes, -frameBytes);
            return Task.FromResult(false);
        }

        return pending.Completion.Task;
    }

    /// <summary>The configured size cap.</summary>
    public long MaxBytes => _options.MaxBytes;

    /// <summary>True when an append of <paramref name="bytes"/> would fit under the cap right now.</summary>
    public bool HasRoomFor(int bytes) =>
        !_closed && Interlocked.Read(ref _bytes) + Interlocked.Read(ref _reservedBytes) + SpoolFrame.HeaderSize + bytes <= _options.MaxBytes;

    /// <summary>Completes when records after <paramref name="sequence"/> are durable (or the spool closes).</summary>
    public Task WaitForDurableAsync(long sequence, CancellationToken cancellationToken)
    {
        var changed = Volatile.Read(ref _durableChanged);
        if (DurableSequence > sequence || _closed)
        {
            return Task.CompletedTask;
        }

        return changed.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Reads durable records with a sequence above the cursor, advancing it.</summary>
    public IReadOnlyList<SpooledRecord> Read(SpoolCursor cursor, int maxRecords, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        var result = new List<SpooledRecord>();
        var bytes = 0;
        var durable = DurableSequence;
        Span<byte> header = stackalloc byte[SpoolFrame.HeaderSize];
        while (result.Count < maxRecords && bytes < maxBytes && cursor.NextSequence <= durable)
        {
            if (cursor.Handle is null && !cursor.Seek(FindSegment(cursor.NextSequence)))
            {
                break;
            }

            if (cursor.ReadAt(cursor.Offset, header) < SpoolFrame.HeaderSize)
            {
                // End of this segment: move on only when a later one exists, else stay at the tail.
                var nextSegment = FindSegmentAfter(cursor.SegmentFirst);
                if (nextSegment is null)
                {
                    break;
                }

                cursor.Close();
                if (!cursor.Seek(nextSegment))
                {
                    break;
                }

                continue;
            }

            if (!SpoolFrame.TryReadHeader(header, out var length, out var sequence, out var unixMs, out _))
            {
                throw new InvalidDataException($"Corrupt spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
            }

            if (sequence > durable)
            {
                break;
            }

            var payload = new byte[length];
            if (cursor.ReadAt(cursor.Offset + SpoolFrame.HeaderSize, payload) < length)
            {
                throw new InvalidDataException($"Truncated spool frame in segment {cursor.SegmentFirst} at offset {cursor.Offset}.");
            }

            cursor.Offset += SpoolFrame.HeaderSize + length;
            if (sequence < cursor.NextSequence)
            {
                continue;
            }

            cursor.NextSequence = sequence + 1;
            result.Add(new SpooledRecord(sequence, DateTimeOffset.FromUnixTimeMilliseconds(unixMs), payload));
            bytes += length;
        }

        return result;
    }

    /// <summary>A cursor positioned at the first record the writer has not acknowledged.</summary>
    public SpoolCursor CreateCursor() => new(AckedSequence + 1);

    /// <summary>Records a cumulative ack: persists the mark, then deletes segments that lie wholly below it.</summary>
    public void Acknowledge(long sequence)
    {
        var previous = AckedSequence;
        if (sequence <= previous)
        {
            return;
        }

        if (sequence > DurableSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "Cannot acknowledge records that are not durable.");
        }

        WriteAckMark(sequence);
        Interlocked.Exchange(ref _ackedSequence, sequence);
        while (_unacked.TryPeek(out var head) && head.Sequence <= sequence)
        {
            _unacked.TryDequeue(out _);
        }

        Metrics.AddShipped(sequence - previous);
        lock (_segmentsLock)
        {
            // A segment's last sequence is one below the next segment's first; the active (last) one stays.
            while (_segments.Count > 1 && _segments[1].FirstSequence - 1 <= sequence)
            {
                var segment = _segments[0];
                _segments.RemoveAt(0);
                Interlocked.Add(ref _bytes, -segment.Length);
                File.Delete(segment.Path);
            }
        }
    }

    /// <summary>Stops accepting appends and waits until everything already appended is durable.</summary>
    public async Task CloseAsync()
    {
        _closed = true;
        _appends.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
        _syncTimer?.Dispose();
        Volatile.Read(ref _durableChanged).TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        Metrics.Dispose();
    }

    private double OldestUnackedSeconds() =>
        _unacked.TryPeek(out var head)
            ? Math.Max(0, (_time.GetUtcNow().ToUnixTimeMilliseconds() - head.UnixMs) / 1000.0)
            : 0;

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingAppend>();
        var header = new byte[SpoolFrame.HeaderSize];
        var lastSync = _time.GetTimestamp();
        var waitForSync = _options.Durability == SpoolDurability.PowerLoss;
        while (await _appends.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (waitForSync)
            {
                var wait = _options.CommitInterval - _time.GetElapsedTime(lastSync);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time).ConfigureAwait(false);
                }
            }

            batch.Clear();
            var syncRequested = false;
            while (_appends.Reader.TryRead(out var pending))
            {
                if (ReferenceEquals(pending, SyncMarker))
                {
                    syncRequested = true;
                }
                else
                {
                    batch.Add(pending);
                }
            }

            try
            {
                var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
                var first = _nextSequence;
                foreach (var pending in batch)
                {
                    var frameBytes = SpoolFrame.HeaderSize + pending.Payload.Length;
                    var stream = ActiveStreamFor(frameBytes);
                    SpoolFrame.WriteHeader(header, _nextSequence, now, pending.Payload.Span);
                    stream.Write(header);
                    stream.Write(pending.Payload.Span);
                    _unacked.Enqueue((_nextSequence, now));
                    _nextSequence++;
                    lock (_segmentsLock)
                    {
                        _segments[^1].Length += frameBytes;
                    }

                    Interlocked.Add(ref _bytes, frameBytes);
                    Interlocked.Add(ref _reservedBytes, -frameBytes);
                }

                if (waitForSync || syncRequested || _time.GetElapsedTime(lastSync) >= _options.CommitInterval)
                {
                    _active?.Flush(flushToDisk: true);
                    lastSync = _time.GetTimestamp();
                    _unsynced = false;
                }
                else if (batch.Count > 0)
                {
                    // In the page cache: a killed process loses nothing; the sync below bounds what a power cut can take.
                    _active!.Flush(flushToDisk: false);
                    ScheduleSync();
                }

                if (_nextSequence > first)
                {
                    Interlocked.Exchange(ref _durableSequence, _nextSequence - 1);
                }

                var signal = Interlocked.Exchange(ref _durableChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                signal.TrySetResult();
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult(true);
                }
            }
#pragma warning disable CA1031 // A failed write or fsync must fail the waiting appends, not the loop.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(exception);
                }
            }
        }

        _active?.Flush(flushToDisk: true);
        _active?.Dispose();
    }

    /// <summary>Asks the write loop for an fsync one commit interval from now, so a quiet spool still syncs its tail.</summary>
    private void ScheduleSync()
    {
        if (_unsynced)
        {
            return;
        }

        _unsynced = true;
        _syncTimer ??= _time.CreateTimer(_ => _appends.Writer.TryWrite(SyncMarker), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _syncTimer.Change(_options.CommitInterval, Timeout.InfiniteTimeSpan);
    }

    private FileStream ActiveStreamFor(int frameBytes)
    {
        Segment? current;
        lock (_segmentsLock)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (_active is not null && current is not null && (current.Length == 0 || current.Length + frameBytes <= _options.SegmentBytes))
        {
            return _active;
        }

        if (_active is not null)
        {
            _active.Flush(flushToDisk: true);
            _active.Dispose();
        }

        Segment segment;
        if (current is not null && _active is null && current.Length + frameBytes <= _options.SegmentBytes)
        {
            segment = current;
        }
        else
        {
            segment = new Segment(_nextSequence, SegmentPath(_nextSequence), 0);
            lock (_segmentsLock)
            {
                _segments.Add(segment);
            }
        }

        _active = new FileStream(segment.Path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 64 * 1024,
        });
        _active.Seek(segment.Length, SeekOrigin.Begin);
        return _active;
    }

    private void Recover()
    {
        _ackedSequence = File.Exists(_ackPath) && new FileInfo(_ackPath).Length == 8
            ? BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(_ackPath))
            : 0;
        var files = Directory.GetFiles(_options.Directory, "*" + SegmentSuffix)
            .Select(path => (Path: path, First: long.Parse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(f => f.First)
            .ToList();
        var last = _ackedSequence;
        var header = new byte[SpoolFrame.HeaderSize];
        foreach (var (path, first) in files)
        {
            long offset = 0;
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
            {
                var length = RandomAccess.GetLength(handle);
                while (offset + SpoolFrame.HeaderSize <= length)
                {
                    RandomAccess.Read(handle, header, offset);
                    if (!SpoolFrame.TryReadHeader(header, out var payloadLength, out var sequence, out var unixMs, out var checksum)
                        || offset + SpoolFrame.HeaderSize + payloadLength > length)
                    {
                        break;
                    }

                    var payload = new byte[payloadLength];
                    RandomAccess.Read(handle, payload, offset + SpoolFrame.HeaderSize);
                    if (SpoolFrame.Checksum(header.AsSpan(4, 16), payload) != checksum)
                    {
                        break;
                    }

                    if (sequence > _ackedSequence)
                    {
                        _unacked.Enqueue((sequence, unixMs));
                    }

                    last = Math.Max(last, sequence);
                    offset += SpoolFrame.HeaderSize + payloadLength;
                }

                // Anything after the last valid frame is a write torn by a crash: it was never acknowledged durable.
                if (offset < length)
                {
                    RandomAccess.SetLength(handle, offset);
                }
            }

            _segments.Add(new Segment(first, path, offset));
            _bytes += offset;
        }

        _nextSequence = last + 1;
        _durableSequence = last;
        while (_segments.Count > 1 && _segments[1].FirstSequence - 1 <= _ackedSequence)
        {
            _bytes -= _segments[0].Length;
            File.Delete(_segments[0].Path);
            _segments.RemoveAt(0);
        }

        if (_segments.Count == 1 && _segments[0].Length == 0 && _segments[0].FirstSequence != _nextSequence)
        {
            File.Delete(_segments[0].Path);
            _segments.Clear();
        }
    }

    private void WriteAckMark(long sequence)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, sequence);
        var temp = _ackPath + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, _ackPath, overwrite: true);
    }

    private Segment? FindSegment(long sequence)
    {
        lock (_segmentsLock)
        {
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].FirstSequence <= sequence)
                {
                    return _segments[i];
                }
            }

            return _segments.Count > 0 ? _segments[0] : null;
        }
    }

    private Segment? FindSegmentAfter(long firstSequence)
    {
        lock (_segmentsLock)
        {
            return _segments.FirstOrDefault(s => s.FirstSequence > firstSequence);
        }
    }

    private string SegmentPath(long firstSequence) =>
        Path.Combine(_options.Directory, firstSequence.ToString("D20", CultureInfo.InvariantCulture) + SegmentSuffix);

    private sealed record PendingAppend(ReadOnlyMemory<byte> Payload, TaskCompletionSource<bool> Completion);

    internal sealed class Segment(long firstSequence, string path, long length)
    {
        public long FirstSequence { get; } = firstSequence;

        public string Path { get; } = path;

        public long Length { get; set; } = length;
    }
}

public sealed record SpooledRecord(long Sequence, DateTimeOffset AppendedAt, byte[] Payload);

/// <summary>A reader position in the spool; owned by one reader (the shipper).</summary>
public sealed class SpoolCursor : IDisposable
{
    internal SpoolCursor(long nextSequence) => NextSequence = nextSequence;

    public long NextSequence { get; internal set; }

    internal SafeFileHandle? Handle { get; private set; }

    internal long SegmentFirst { get; private set; }

    internal long Offset { get; set; }

    // Read-ahead: frames are read from a 256 KiB window, not with two syscalls each. Bytes already in a segment never
    // change (append-only), so a window stays valid; a range past its end is simply read again.
    private readonly byte[] _window = new byte[256 * 1024];
    private long _windowStart;
    private int _windowLength;

    internal int ReadAt(long offset, Span<byte> destination)
    {
        if (offset >= _windowStart && offset + destination.Length <= _windowStart + _windowLength)
        {
            _window.AsSpan((int)(offset - _windowStart), destination.Length).CopyTo(destination);
            return destination.Length;
        }

        if (destination.Length > _window.Length)
        {
            return RandomAccess.Read(Handle!, destination, offset);
        }

        _windowStart = offset;
        _windowLength = RandomAccess.Read(Handle!, _window, offset);
        var count = Math.Min(_windowLength, destination.Length);
        _window.AsSpan(0, count).CopyTo(destination);
        return count;
    }

    internal bool Seek(AuditSpool.Segment? segment)
    {
        _windowLength = 0;
        if (segment is null)
        {
            return false;
        }

        try
        {
            Handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false;
        }

        SegmentFirst = segment.FirstSequence;
        Offset = 0;
        return true;
    }

    internal void Close()
    {
        _windowLength = 0;
        Handle?.Dispose();
        Handle = null;
    }

    public void Dispose() => Close();
}
