using System.Buffers;
using System.Diagnostics.Metrics;

namespace Edge.Audit.Spool;

/// <summary>
/// The edge's durable, append-only audit spool: segment files of checksummed frames (<see cref="SpoolSegmentSet"/>),
/// one group-commit writer (<see cref="SpoolWriter"/>; see <see cref="SpoolDurability"/> for when an append completes),
/// a persisted cumulative ack mark (<see cref="SpoolAckMark"/>), and deletion of whole segments only once they lie
/// entirely below that mark. Creating a spool touches no file: <see cref="StartAsync"/> runs recovery
/// (<see cref="SpoolRecovery"/>) and starts the writer loop.
/// </summary>
public sealed class AuditSpool : IAsyncDisposable
{
    private readonly SpoolOptions _options;
    private readonly SpoolSegmentSet _segments;
    private readonly SpoolAckMark _ackMark;
    private readonly SpoolBacklog _backlog;
    private readonly SpoolWriter _writer;
    private readonly SpoolReader _reader;
    private readonly object _startLock = new();
    private Task? _start;
    private volatile bool _started;
    private SpoolDirectoryLock? _directoryLock;

    private AuditSpool(SpoolOptions options, TimeProvider time, IMeterFactory? meterFactory)
    {
        _options = options;
        _segments = new SpoolSegmentSet(options);
        _ackMark = new SpoolAckMark(options.Directory);
        _backlog = new SpoolBacklog(time);
        _writer = new SpoolWriter(options, _segments, _backlog, time);
        _reader = new SpoolReader(_segments);
        Metrics = new SpoolMetrics(() => _segments.Bytes, _backlog.OldestAgeSeconds, () => _writer.WriteFailures, meterFactory);
    }

    public SpoolMetrics Metrics { get; }

    public long AckedSequence => _ackMark.Sequence;

    public long DurableSequence => _writer.DurableSequence;

    /// <summary>Segments the start found damaged (empty when every frame read back, or before the start).</summary>
    public IReadOnlyList<SpoolDamage> RecoveryDamage { get; private set; } = [];

    /// <summary>Records the start found missing between segments (empty when none, or before the start); shipped past.</summary>
    public IReadOnlyList<SpoolGap> RecoveryGaps { get; private set; } = [];

    /// <summary>The configured size cap.</summary>
    public long MaxBytes => _options.MaxBytes;

    /// <summary>The spool's directory.</summary>
    public string Directory => _options.Directory;

    /// <summary>A spool that has not touched its directory yet; <see cref="StartAsync"/> opens it.</summary>
    public static AuditSpool Create(SpoolOptions options, TimeProvider? time = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new AuditSpool(options, time ?? TimeProvider.System, meterFactory);
    }

    /// <summary>Creates the spool and waits for <see cref="StartAsync"/>.</summary>
    public static async Task<AuditSpool> OpenAsync(
        SpoolOptions options, TimeProvider? time = null, IMeterFactory? meterFactory = null, CancellationToken cancellationToken = default)
    {
        var spool = Create(options, time, meterFactory);
        await spool.StartAsync(cancellationToken).ConfigureAwait(false);
        return spool;
    }

    /// <summary>
    /// Recovers the spool from its directory (ack mark, segments, torn tail) and starts the writer loop. Runs once;
    /// later calls wait for the same start. Cancelling stops the wait, not the recovery.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        Task start;
        lock (_startLock)
        {
            ObjectDisposedException.ThrowIf(_start is null && _writer.IsClosed, this);
            start = _start ??= Task.Run(StartCoreAsync, CancellationToken.None);
        }

        return cancellationToken.CanBeCanceled ? start.WaitAsync(cancellationToken) : start;
    }

    /// <summary>
    /// Appends one record. Returns false at once when the size cap would be exceeded (or the spool is closed);
    /// otherwise completes with true once the record is written (<see cref="SpoolDurability.ProcessCrash"/>) or fsynced
    /// (<see cref="SpoolDurability.PowerLoss"/>). An append before <see cref="StartAsync"/> starts the spool and waits for it.
    /// <paramref name="admitted"/>: the caller found room (<see cref="HasRoomFor"/>) before it acted on what the record
    /// describes, so the record is written even past the cap: the cap can be exceeded by the records of requests in flight
    /// when it was reached, which would otherwise be lost after the backend served them.
    /// </summary>
    /// <remarks>The result is a recycled completion: await it once (or call <c>AsTask()</c> once), as with any pooled ValueTask.</remarks>
    public ValueTask<bool> TryAppendAsync(ReadOnlyMemory<byte> record, bool admitted = false)
    {
        if (record.Length == 0 || record.Length > SpoolFrame.MaxPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(record), record.Length, "A spooled record is 1 byte to 16 MiB.");
        }

        return _started ? _writer.TryAppendAsync(record, admitted) : new ValueTask<bool>(AppendOnceStartedAsync(record, admitted));
    }

    /// <summary>
    /// True when an append of <paramref name="bytes"/> would fit under the cap right now and writes work (after a failed
    /// write, false except for one caller a second, whose append tries again).
    /// </summary>
    public bool HasRoomFor(int bytes) => _writer.HasRoomFor(bytes);

    /// <summary>True when an append of <paramref name="bytes"/> would fit under the cap right now (no other check).</summary>
    public bool IsUnderCap(int bytes) => _writer.IsUnderCap(bytes);

    /// <summary>The last failed write while writes keep failing (a full disk, a removed directory); null when they work.</summary>
    public SpoolWriteFailure? WriteFailure => _writer.WriteFailure;

    /// <summary>
    /// True when a segment file of the spool is no longer in its directory (the directory removed or replaced, or the file
    /// deleted, while the edge runs): the records in it not yet acknowledged are then only in files this process holds
    /// open, and gone once it exits.
    /// </summary>
    public bool SegmentFilesGone() => _segments.AnyFileMissing();

    /// <summary>Completes when records after <paramref name="sequence"/> are durable (or the spool closes).</summary>
    public Task WaitForDurableAsync(long sequence, CancellationToken cancellationToken) => _writer.WaitForDurableAsync(sequence, cancellationToken);

    /// <summary>Reads durable records with a sequence above the cursor, advancing it.</summary>
    public IReadOnlyList<SpooledRecord> Read(SpoolCursor cursor, int maxRecords, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        ThrowIfNotStarted();
        return _reader.Read(cursor, DurableSequence, maxRecords, maxBytes);
    }

    /// <summary>
    /// Reads durable records above the cursor straight into <paramref name="body"/> as NDJSON (each payload, then a
    /// newline), advancing it; no array per record.
    /// </summary>
    public SpoolBatch ReadBatch(SpoolCursor cursor, int maxRecords, int maxBytes, IBufferWriter<byte> body)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        ArgumentNullException.ThrowIfNull(body);
        ThrowIfNotStarted();
        return _reader.ReadBatch(cursor, DurableSequence, maxRecords, maxBytes, body);
    }

    /// <summary>A cursor positioned at the first record the writer has not acknowledged.</summary>
    public SpoolCursor CreateCursor()
    {
        ThrowIfNotStarted();
        return new SpoolCursor(AckedSequence + 1);
    }

    /// <summary>Records a cumulative ack: persists the mark, then deletes segments that lie wholly below it.</summary>
    public void Acknowledge(long sequence)
    {
        ThrowIfNotStarted();
        var previous = AckedSequence;
        if (sequence <= previous)
        {
            return;
        }

        if (sequence > DurableSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "Cannot acknowledge records that are not durable.");
        }

        _ackMark.Persist(sequence);
        // The records released, not the distance between the marks: records missing at a gap the start read past
        // (SpoolGap) were never shipped.
        Metrics.AddShipped(_backlog.ReleaseThrough(sequence));
        _segments.DeleteCoveredBy(sequence);
    }

    /// <summary>The folder, inside the spool directory, that holds the records writers refused.</summary>
    public string QuarantineDirectory => Path.Combine(_options.Directory, QuarantineFolder);

    internal const string QuarantineFolder = "quarantine";

    /// <summary>
    /// Sets aside the next record to ship, which a writer refused as a record (too large for it, or invalid to it), so the
    /// records after it can ship: writes it to <c>quarantine/&lt;sequence&gt;.ndjson</c> (the record, then a newline, as it
    /// would have been posted; fsynced, private to the edge's user), then moves the ack mark past it. Returns the file's
    /// path, or null when the folder is at <see cref="SpoolOptions.MaxQuarantineBytes"/> (nothing written, nothing
    /// acknowledged). Throws, acknowledging nothing, when the file cannot be written.
    /// </summary>
    public string? Quarantine(long sequence, ReadOnlySpan<byte> record)
    {
        ThrowIfNotStarted();
        if (sequence != AckedSequence + 1 || sequence > DurableSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "Only the next record to ship can be quarantined.");
        }

        var directory = QuarantineDirectory;
        SpoolRecovery.CreateDirectory(directory);
        var held = new DirectoryInfo(directory).EnumerateFiles().Sum(f => f.Length);
        if (held + record.Length + 1 > _options.MaxQuarantineBytes)
        {
            return null;
        }

        var path = Path.Combine(directory, sequence.ToString("D20", System.Globalization.CultureInfo.InvariantCulture) + ".ndjson");
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            stream.Write(record);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        _ackMark.Persist(sequence);
        Metrics.AddQuarantined(_backlog.ReleaseThrough(sequence));
        _segments.DeleteCoveredBy(sequence);
        return path;
    }

    /// <summary>
    /// Deletes the active segment when the writer acknowledged every record in it, and says whether it did; the next
    /// append starts a new segment. Whole segments below the ack mark are deleted as it advances, but the active one
    /// stayed until it filled (8 MiB: days at a low rate), holding principals and client addresses in plaintext after the
    /// writer held them, and after an erasure of their subject there.
    /// </summary>
    public bool DeleteAcknowledged()
    {
        ThrowIfNotStarted();
        return _writer.DeleteActiveIfAcknowledged(AckedSequence);
    }

    /// <summary>Stops accepting appends and waits until everything already appended is durable.</summary>
    public async Task CloseAsync()
    {
        Task? start;
        lock (_startLock)
        {
            _writer.Close();
            start = _start;
        }

        if (start is not null)
        {
            // A failed start was reported to whoever awaited it; there is then nothing to flush.
            await start.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _writer.CloseAsync().ConfigureAwait(false);

        // Released only once every appended record is written, so a successor never recovers a segment still in use.
        Interlocked.Exchange(ref _directoryLock, null)?.Dispose();
    }

    /// <summary>Releases the directory lock as the end of the process does, without closing (tests of kill -9).</summary>
    internal void ReleaseDirectoryLockAsKilled() => Interlocked.Exchange(ref _directoryLock, null)?.Dispose();

    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        Metrics.Dispose();
    }

    private async Task StartCoreAsync()
    {
        // Locked before recovery reads anything: recovery cuts and deletes files another live spool may be writing.
        SpoolRecovery.CreateDirectory(_options.Directory);
        var directoryLock = SpoolDirectoryLock.Acquire(_options.Directory);
        try
        {
            var damage = new List<SpoolDamage>();
            var gaps = new List<SpoolGap>();
            var last = await SpoolRecovery.RecoverAsync(_options, _ackMark, _segments, _backlog, CancellationToken.None, damage, gaps)
                .ConfigureAwait(false);
            _ackMark.EnsureFile();
            RecoveryDamage = damage;
            RecoveryGaps = gaps;
            Metrics.AddLost(gaps.Sum(g => g.FoundSequence - g.ExpectedSequence));
            _writer.Start(last);
        }
        catch
        {
            directoryLock.Dispose();
            throw;
        }

        _directoryLock = directoryLock;
        _started = true;
    }

    private async Task<bool> AppendOnceStartedAsync(ReadOnlyMemory<byte> record, bool admitted)
    {
        if (_writer.IsClosed)
        {
            return false;
        }

        try
        {
            await StartAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Closed before it ever started: refused like any append after close.
            return false;
        }

        return await _writer.TryAppendAsync(record, admitted).ConfigureAwait(false);
    }

    private void ThrowIfNotStarted()
    {
        if (!_started)
        {
            throw new InvalidOperationException("The audit spool is not started: call StartAsync first.");
        }
    }
}
