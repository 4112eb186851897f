using System.Collections.Concurrent;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;

namespace Edge.Audit.Spool;

/// <summary>
/// The spool's writer: appends complete once written (<see cref="SpoolDurability.ProcessCrash"/>; the fsync runs on a
/// thread of its own, one at a time, at most one per <see cref="SpoolOptions.EffectiveCommitInterval"/>) or fsynced
/// (<see cref="SpoolDurability.PowerLoss"/>: one loop takes every append queued since its last pass, writes the frames,
/// fsyncs once per interval and completes them together). It also holds the size cap, so a refused append costs nothing but two
/// atomic adds.
/// </summary>
/// <remarks>
/// With <see cref="SpoolDurability.ProcessCrash"/>, every append writes its own frame on the caller's thread and
/// completes at once: the segment is a shared memory mapping (<see cref="SpoolSegmentSet.Write"/>), so the frame is in the
/// page cache once copied, and the lock is held only for that copy and its checksum. There is no system call per
/// append, no hop to the loop and back, and the response that waits for it continues synchronously. Only
/// <see cref="SpoolDurability.PowerLoss"/> appends queue for the loop, which writes them together and completes them
/// after their fsync.
/// </remarks>
internal sealed class SpoolWriter(SpoolOptions options, SpoolSegmentSet segments, SpoolBacklog backlog, TimeProvider time)
{
    private readonly Channel<PendingAppend> _appends = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    // Held while frames are written: by the loop for a batch, or by one append writing its own frame.
    private readonly Lock _write = new();
    private bool _activeClosed;
    private Task _loop = Task.CompletedTask;
    private ITimer? _syncTimer;
    private SemaphoreSlim? _syncRequested;
    private bool _syncStopped;
    // Pending: an fsync is armed or running (at most one). Dirty: frames were written since the last fsync started.
    private int _syncPending;
    private int _syncDirty;
    private long _lastSyncStart;
    private long _reservedBytes;
    private long _nextSequence;
    private long _durableSequence;
    private int _durableWaited;
    private volatile bool _closed;
    // Set by a write that failed (a full disk, a removed spool directory), cleared by the next one that works. While set,
    // admission refuses audit-required requests except one per FailureProbeInterval, whose append tries the disk again:
    // before, every such request was forwarded to the backend and then had its connection aborted.
    private volatile bool _writeFailing;
    private long _lastWriteFailure;
    private long _writeFailures;
    private volatile SpoolWriteFailure? _writeFailure;
    private TaskCompletionSource _durableChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long DurableSequence => Interlocked.Read(ref _durableSequence);

    public bool IsClosed => _closed;

    /// <summary>How long admission refuses after a failed write before it lets one request try again.</summary>
    public static TimeSpan FailureProbeInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>The last failed write while writes keep failing; null once one works again.</summary>
    public SpoolWriteFailure? WriteFailure => _writeFailing ? _writeFailure : null;

    /// <summary>Writes and fsyncs that failed since start.</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Starts the loop; the next frame gets <paramref name="lastSequence"/> + 1.</summary>
    public void Start(long lastSequence)
    {
        _nextSequence = lastSequence + 1;
        Interlocked.Exchange(ref _durableSequence, lastSequence);
        Interlocked.Exchange(ref _durableChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        _lastSyncStart = time.GetTimestamp();
        if (options.Durability == SpoolDurability.ProcessCrash)
        {
            // The fsync blocks its thread for as long as the disk takes (here 0.4 ms typical, tens of ms at times, up to
            // 500 times a second at the default interval). On a pool thread that was a worker the requests could not
            // use; on a 2-core host the pool has about two. The timer only wakes the thread.
            _syncRequested = new SemaphoreSlim(0);
            _syncTimer = time.CreateTimer(static state => ((SpoolWriter)state!)._syncRequested!.Release(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            new Thread(SyncThread) { IsBackground = true, Name = "Edge spool fsync" }.Start();
        }

        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Deletes the active segment when <paramref name="ackedSequence"/> covers every record written; see <see cref="AuditSpool.DeleteAcknowledged"/>.</summary>
    public bool DeleteActiveIfAcknowledged(long ackedSequence)
    {
        lock (_write)
        {
            return !_activeClosed && ackedSequence >= _nextSequence - 1 && segments.DeleteActive();
        }
    }

    /// <summary>
    /// Queues one frame. Returns false at once when the size cap would be exceeded (unless <paramref name="admitted"/>)
    /// or the writer is closed. The caller has checked the record's length.
    /// </summary>
    public ValueTask<bool> TryAppendAsync(ReadOnlyMemory<byte> record, bool admitted = false)
    {
        var frameBytes = SpoolFrame.HeaderSize + record.Length;
        var reserved = Interlocked.Add(ref _reservedBytes, frameBytes);
        if (_closed || (!admitted && segments.Bytes + reserved > options.MaxBytes))
        {
            Interlocked.Add(ref _reservedBytes, -frameBytes);
            return new ValueTask<bool>(false);
        }

        if (options.Durability == SpoolDurability.ProcessCrash)
        {
            _write.Enter();
            return AppendInline(record, frameBytes);
        }

        var pending = PendingAppend.Rent(record);
        // Taken before the queue write: from then on the loop may complete the append, and its awaiter recycle it.
        var completion = pending.AsValueTask();
        if (!_appends.Writer.TryWrite(pending))
        {
            Interlocked.Add(ref _reservedBytes, -frameBytes);
            pending.SetResult(false);
        }

        return completion;
    }

    /// <summary>Writes one frame on the caller's thread; called holding <see cref="_write"/>, which it releases.</summary>
    private ValueTask<bool> AppendInline(ReadOnlyMemory<byte> record, int frameBytes)
    {
        long first;
        try
        {
            if (_activeClosed)
            {
                Interlocked.Add(ref _reservedBytes, -frameBytes);
                return new ValueTask<bool>(false);
            }

            first = _nextSequence;
            Span<byte> header = stackalloc byte[SpoolFrame.HeaderSize];
            WriteFrame(record.Span, header, time.GetUtcNow().ToUnixTimeMilliseconds());
            Published(first);
        }
#pragma warning disable CA1031 // As in the loop: a failed write fails this append, and the caller sees the exception.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<bool>(exception);
        }
        finally
        {
            _write.Exit();
        }

        ScheduleSync();
        return new ValueTask<bool>(true);
    }

    private void WriteFrame(ReadOnlySpan<byte> payload, Span<byte> header, long now)
    {
        var frameBytes = SpoolFrame.HeaderSize + payload.Length;
        SpoolFrame.WriteHeader(header, _nextSequence, now, payload);
        try
        {
            segments.Write(header, payload, _nextSequence);
        }
        catch (Exception exception)
        {
            // Not written: its room goes back under the cap, or every failed append (a full disk) would keep some
            // reserved and the spool would refuse everything for good once the cap's worth had failed.
            Interlocked.Add(ref _reservedBytes, -frameBytes);
            RecordWriteFailure(exception);
            throw;
        }

        if (_writeFailing)
        {
            _writeFailing = false;
        }

        backlog.Add(_nextSequence, now);
        _nextSequence++;
        Interlocked.Add(ref _reservedBytes, -frameBytes);
    }

    /// <summary>Counts the failure and, until a write works again, refuses appends but one probe a second.</summary>
    private void RecordWriteFailure(Exception exception)
    {
        Interlocked.Increment(ref _writeFailures);
        _writeFailure = new SpoolWriteFailure(time.GetUtcNow(), exception.Message);
        Interlocked.Exchange(ref _lastWriteFailure, time.GetTimestamp());
        _writeFailing = true;
    }

    /// <summary>True when an append of <paramref name="bytes"/> would fit under the cap right now.</summary>
    public bool HasRoomFor(int bytes) => IsUnderCap(bytes) && !RefusingAfterWriteFailure();

    /// <summary>True when <paramref name="bytes"/> more would fit under the cap; unlike <see cref="HasRoomFor"/>, never admits a probe.</summary>
    public bool IsUnderCap(int bytes) =>
        !_closed && segments.Bytes + Interlocked.Read(ref _reservedBytes) + SpoolFrame.HeaderSize + bytes <= options.MaxBytes;

    /// <summary>
    /// While writes fail: true, except for one caller per <see cref="FailureProbeInterval"/>, whose append tries the disk
    /// again (and clears the failure when it works). One volatile read when writes work.
    /// </summary>
    private bool RefusingAfterWriteFailure()
    {
        if (!_writeFailing)
        {
            return false;
        }

        var last = Interlocked.Read(ref _lastWriteFailure);
        if (time.GetElapsedTime(last) < FailureProbeInterval)
        {
            return true;
        }

        // The probe's own interval starts now, so the requests beside it are still refused.
        return Interlocked.CompareExchange(ref _lastWriteFailure, time.GetTimestamp(), last) != last;
    }

    /// <summary>Completes when records after <paramref name="sequence"/> are durable (or the writer closes).</summary>
    public Task WaitForDurableAsync(long sequence, CancellationToken cancellationToken)
    {
        var changed = Volatile.Read(ref _durableChanged);
        // Asks the next batch to signal; set before the check below, so a batch that missed it made the check pass.
        Interlocked.Exchange(ref _durableWaited, 1);
        if (DurableSequence > sequence || _closed)
        {
            return Task.CompletedTask;
        }

        return changed.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Refuses further appends at once.</summary>
    public void Close()
    {
        _closed = true;
        _appends.Writer.TryComplete();
    }

    /// <summary>Refuses further appends and waits until everything already queued is written and fsynced.</summary>
    public async Task CloseAsync()
    {
        Close();
        await _loop.ConfigureAwait(false);
        // The loop's last act was a full fsync of every segment; a sync still scheduled has nothing left to do.
        Volatile.Write(ref _syncStopped, true);
        _syncTimer?.Dispose();
        _syncRequested?.Release();
        Volatile.Read(ref _durableChanged).TrySetResult();
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<PendingAppend>();
        var header = new byte[SpoolFrame.HeaderSize];
        var lastSync = time.GetTimestamp();
        // Only PowerLoss appends are queued; the loop also closes the active segment once the writer closes.
        while (await _appends.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var wait = options.EffectiveCommitInterval - time.GetElapsedTime(lastSync);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time).ConfigureAwait(false);
            }

            batch.Clear();
            while (_appends.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            // Held only for the synchronous write of this batch, never across an await.
            lock (_write)
            {
                var first = _nextSequence;
                var written = WriteBatch(batch, header, out var writeFailure);
                if (written > 0)
                {
                    try
                    {
                        segments.SyncToDisk();
                        ThrowIfActiveFileGone();
                    }
#pragma warning disable CA1031 // A failed fsync must fail the waiting appends, not the loop.
                    catch (Exception exception)
#pragma warning restore CA1031
                    {
                        // These appends were promised the fsync: failing them is a failed write like a full disk's,
                        // which the metric and /readyz showed before only when the frame itself could not be written.
                        RecordWriteFailure(exception);
                        Complete(batch, written: 0, first, exception);
                        continue;
                    }

                    lastSync = time.GetTimestamp();
                }

                // The frames written before a failed one are in the spool and will ship: their appends succeed, so what
                // the trail holds is what their clients get. Failing them too (as before) aborted those clients.
                Complete(batch, written, first, writeFailure);
            }
        }

        lock (_write)
        {
            // An append that takes the lock after this refuses instead of writing to a closed segment.
            _activeClosed = true;
            segments.CloseActive();
        }
    }

    /// <summary>
    /// <see cref="SpoolDurability.ProcessCrash"/>: asks for an fsync one commit interval after the last one started (at
    /// once when that is past), so there is at most one per interval and a quiet spool still syncs its tail. One fsync
    /// at a time runs, on the spool's fsync thread; appends go on meanwhile.
    /// </summary>
    private void ScheduleSync()
    {
        Interlocked.Exchange(ref _syncDirty, 1);
        if (Interlocked.CompareExchange(ref _syncPending, 1, 0) == 0)
        {
            ArmSync();
        }
    }

    private void ArmSync()
    {
        if (Volatile.Read(ref _syncStopped))
        {
            return;
        }

        var due = options.EffectiveCommitInterval - time.GetElapsedTime(Interlocked.Read(ref _lastSyncStart));
        if (due > TimeSpan.Zero)
        {
            try
            {
                _syncTimer!.Change(due, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Closed meanwhile: the close fsynced everything.
            }
        }
        else
        {
            _syncRequested!.Release();
        }
    }

    /// <summary>Throws when the active segment's file left the spool directory (<see cref="SpoolSegmentSet.ActiveFileGone"/>).</summary>
    private void ThrowIfActiveFileGone()
    {
        if (segments.ActiveFileGone(out var path))
        {
            throw new SpoolSegmentGoneException(path!);
        }
    }

    /// <summary>The fsync thread: one <see cref="SyncNow"/> per request (at most one is outstanding, see <see cref="_syncPending"/>).</summary>
    private void SyncThread()
    {
        while (true)
        {
            _syncRequested!.Wait();
            if (Volatile.Read(ref _syncStopped))
            {
                return;
            }

            SyncNow();
        }
    }

    private void SyncNow()
    {
        Interlocked.Exchange(ref _lastSyncStart, time.GetTimestamp());
        // Cleared before the fsync: what is written from here on marks the spool dirty again.
        Interlocked.Exchange(ref _syncDirty, 0);
        try
        {
            segments.SyncToDisk();
            ThrowIfActiveFileGone();
        }
        catch (SpoolSegmentGoneException exception)
        {
            // Unlike a failed fsync, nothing written to that file from now on can ship after a restart: a failed write,
            // so admission refuses audit-required requests (but one probe a second) until a new segment can be created.
            RecordWriteFailure(exception);
        }
        catch (IOException)
        {
            // Nothing waits for this fsync, and the frames stay readable in the page cache for the shipper: counted, so
            // a disk that cannot take them shows, but appends go on (only PowerLoss promises the fsync). The next one, at
            // the latest the one at close, tries again.
            Interlocked.Increment(ref _writeFailures);
        }
        catch (ObjectDisposedException)
        {
            // Closed meanwhile: the close fsynced everything.
        }

        Interlocked.Exchange(ref _syncPending, 0);
        // Batches written during the fsync found it pending and left the next one to us.
        if (Volatile.Read(ref _syncDirty) == 1 && Interlocked.CompareExchange(ref _syncPending, 1, 0) == 0)
        {
            ArmSync();
        }
    }

    /// <summary>
    /// Writes the batch's frames in order and returns how many were written. At the first that fails, stops: the frames
    /// after it are not tried, and their room under the cap is freed (<see cref="WriteFrame"/> frees the failed one's).
    /// </summary>
    private int WriteBatch(List<PendingAppend> batch, byte[] header, out Exception? failure)
    {
        failure = null;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                WriteFrame(batch[i].Payload.Span, header, now);
            }
#pragma warning disable CA1031 // A failed write must fail the waiting appends, not the loop.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                failure = exception;
                for (var rest = i + 1; rest < batch.Count; rest++)
                {
                    Interlocked.Add(ref _reservedBytes, -(SpoolFrame.HeaderSize + batch[rest].Payload.Length));
                }

                return i;
            }
        }

        return batch.Count;
    }

    /// <summary>
    /// Completes the first <paramref name="written"/> appends, publishing their frames, and fails the rest with
    /// <paramref name="failure"/>.
    /// </summary>
    private void Complete(List<PendingAppend> batch, int written, long first, Exception? failure)
    {
        if (written > 0)
        {
            Published(first);
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (i < written)
            {
                batch[i].SetResult(true);
            }
            else
            {
                batch[i].SetException(failure!);
            }
        }

        // Completed appends go back to their pool once awaited: nothing here may touch them again.
        batch.Clear();
    }

    /// <summary>Frames from <paramref name="first"/> on are written: they are what the shipper may read now.</summary>
    private void Published(long first)
    {
        if (_nextSequence > first)
        {
            Interlocked.Exchange(ref _durableSequence, _nextSequence - 1);
        }

        // A new signal only when someone waits (the shipper, when it has caught up), not one per batch.
        if (Interlocked.Exchange(ref _durableWaited, 0) == 1)
        {
            var signal = Interlocked.Exchange(ref _durableChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            signal.TrySetResult();
        }
    }

    /// <summary>
    /// One queued append and its completion, recycled after its awaiter read the result: an append allocates nothing
    /// (the awaiting caller's state machine is the only object a waiting response costs). Awaited exactly once.
    /// </summary>
    private sealed class PendingAppend : IValueTaskSource<bool>
    {
        // Enough for every request in flight at once; a burst beyond it allocates, and the extra ones are let go.
        private const int MaxPooled = 1024;
        private static readonly ConcurrentQueue<PendingAppend> Pool = new();
        private static int s_pooled;

        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public ReadOnlyMemory<byte> Payload { get; private set; }

        public static PendingAppend Rent(ReadOnlyMemory<byte> payload)
        {
            if (Pool.TryDequeue(out var pending))
            {
                Interlocked.Decrement(ref s_pooled);
            }
            else
            {
                pending = new PendingAppend();
            }

            pending.Payload = payload;
            return pending;
        }

        public ValueTask<bool> AsValueTask() => new(this, _core.Version);

        public void SetResult(bool appended) => _core.SetResult(appended);

        public void SetException(Exception exception) => _core.SetException(exception);

        public bool GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Payload = default;
                if (Interlocked.Increment(ref s_pooled) <= MaxPooled)
                {
                    Pool.Enqueue(this);
                }
                else
                {
                    Interlocked.Decrement(ref s_pooled);
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
