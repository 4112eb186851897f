using System.Diagnostics.Metrics;
using Edge.Audit.Spool;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Auditing;

/// <summary>
/// The default without <c>Edge:Audit:WriterUrl</c>: each decision is serialised on the request (the same canonical
/// record bytes the spool ships to the writer) and appended, with its newline, to an in-memory batch; one background
/// loop swaps the batch for an empty one, writes it to <c>Edge:Audit:LocalFile</c> in one write and flushes, then lets
/// records gather for <c>Edge:Audit:LocalFlushInterval</c>, so a steady stream costs one write per interval instead of
/// one per request. The request never waits for the file, and wakes the loop only when the loop found nothing to write
/// and went to sleep: under load the loop runs on its interval alone (issue 13: no queue hand-off, no pooled array and
/// no loop wake-up per record).
/// At most <c>Edge:Audit:LocalQueueCapacity</c> records wait for the file; beyond that a record is dropped and counted,
/// and the count is logged by the loop; this mode promises no durability (configure a writer for that). Security events
/// (config, threat, approval) take the same batch through <see cref="IAuditEventAppender"/>, so the file holds every
/// record a writer would have received.
/// </summary>
internal sealed partial class LocalFileAuditSink : IHostedService, IAuditSink, IAuditEventAppender, IDisposable
{
    private const byte NewLine = (byte)'\n';

    /// <summary>How long the loop waits after a failed write (a full disk) before it writes the same batch again.</summary>
    internal static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often, at most, the loop checks whether the file at the path was rotated away before it writes a batch.</summary>
    internal static readonly TimeSpan RotationCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a stopping host waits for the records still queued to reach the file.</summary>
    internal static readonly TimeSpan FinalWriteTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly string _path;
    private readonly EdgeHostOptions _host;
    private readonly TimeProvider _time;
    private readonly TimeSpan _flushInterval;
    private readonly int _capacity;
    private readonly ILogger<LocalFileAuditSink> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Func<string, Stream> _open;
    private readonly Meter? _ownedMeter;

    // Guarded by _gate: the batch records are appended to, how many records it holds, and whether the loop sleeps
    // until a record arrives (it then has to be woken; otherwise it comes back by itself after the interval).
    private byte[] _filling = new byte[64 * 1024];
    private int _filled;
    private int _count;
    private bool _loopSleeping;

    // The loop's own: the batch being written (swapped with _filling under the gate), and how much of it is still to be
    // written: after a failed write the same batch is written again, and records meanwhile gather in _filling.
    private byte[] _writing = new byte[64 * 1024];
    private int _pending;
    private bool _failing;
    private bool _tornLine;
    private Stream? _file;
    private FileInfo? _atPath;
    private long _rotationCheckedAt;
    private long _dropped;
    private long _droppedReported;
    private Task? _loop;

    public LocalFileAuditSink(
        IOptions<EdgeAuditOptions> options, EdgeHostOptions host, TimeProvider time, ILogger<LocalFileAuditSink> logger, IMeterFactory meterFactory)
        : this(options, host, time, logger, Open, meterFactory)
    {
    }

    /// <param name="open">Opens the file for appending; a test wraps the real file to make writes fail as a full disk does.</param>
    internal LocalFileAuditSink(
        IOptions<EdgeAuditOptions> options, EdgeHostOptions host, TimeProvider time, ILogger<LocalFileAuditSink> logger, Func<string, Stream>? open,
        IMeterFactory? meterFactory = null)
    {
        _open = open ?? Open;
        // The spool's drop counter, under the same name: in the default mode the drops were a log line only, so the
        // shipped alert on edge_audit_dropped_total could not see them. A factory's meter is disposed by the factory.
        var meter = meterFactory?.Create(SpoolMetrics.MeterName) ?? (_ownedMeter = new Meter(SpoolMetrics.MeterName));
        meter.CreateObservableCounter("edge.audit.dropped", () => Dropped,
            description: "Audit records lost because the local audit queue was full (the file could not keep up, or could not be written).");
        _path = Path.GetFullPath(options.Value.LocalFile!);
        _host = host;
        _time = time;
        _flushInterval = options.Value.LocalFlushInterval;
        _capacity = options.Value.LocalQueueCapacity;
        _logger = logger;
    }

    public string FilePath => _path;

    /// <summary>True from a failed write (event 1512) until a write works again (event 1513).</summary>
    public bool WriteFailing => Volatile.Read(ref _failing);

    /// <summary>Records dropped because the queue was full, since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ValueTask RecordAsync(HttpContext context, EdgeRequestFeature request)
    {
        Append(PooledRecordBytes.SerializeToThreadBuffer(DecisionRecords.Build(context, request, _host, _time)));
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> TryAppendAsync(byte[] record, bool admitted = false) => ValueTask.FromResult(Append(record));

    /// <summary>
    /// Nothing to count: <see cref="TryAppendAsync"/> counted the refusal already. Counted here too, each security event
    /// refused by a full queue counted twice in edge_audit_dropped_total and in the 1511 lines.
    /// </summary>
    public void RecordDropped()
    {
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Opened here, before the listeners start: a path that cannot be written (a directory, a read-only folder) was
        // one error line after the first request, and every later decision was dropped while the edge served.
        Stream file;
        try
        {
            file = _open(_path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"Edge:Audit:LocalFile: '{_path}' cannot be opened for appending ({exception.Message}); give a writable path, "
                + "set Edge:Audit:WriterUrl to ship to an audit writer, or set it empty to only log decisions at Debug.");
        }

        // Started directly (not through Task.Run with the stop token), so a stop right after start still drains the batch.
        _loop = DrainAsync(file, _stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            // Not the host's token: a shutdown whose drain window ran out (Kestrel then cut off the requests still in
            // flight) arrives with it already fired, and the records of exactly those requests, queued last, were left
            // unwritten while the host stopped. The final write is local; it gets a bound of its own.
            await _loop.WaitAsync(FinalWriteTimeout, _time);
        }
        catch (TimeoutException)
        {
            Log.FinalWriteIncomplete(_logger, _path, FinalWriteTimeout);
        }
    }

    // _wake is not disposed: a record appended while the host shuts down may still release it (SemaphoreSlim holds no
    // handle unless AvailableWaitHandle is read).
    public void Dispose()
    {
        _stopping.Dispose();
        _ownedMeter?.Dispose();
    }

    private bool Append(ReadOnlySpan<byte> record)
    {
        bool wake;
        lock (_gate)
        {
            if (_count >= _capacity)
            {
                Interlocked.Increment(ref _dropped);
                return false;
            }

            var needed = _filled + record.Length + 1;
            if (needed > _filling.Length)
            {
                Array.Resize(ref _filling, Math.Max(needed, _filling.Length * 2));
            }

            record.CopyTo(_filling.AsSpan(_filled));
            _filling[_filled + record.Length] = NewLine;
            _filled = needed;
            _count++;
            wake = _loopSleeping;
            _loopSleeping = false;
        }

        if (wake)
        {
            _wake.Release();
        }

        return true;
    }

    private static Stream Open(string path)
    {
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        // No FileStream buffer: each batch is one write of its own bytes. A new file is readable by the edge's user
        // and group only (records hold principals and client addresses), whatever the umask; an existing file keeps its mode.
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 0, Options = FileOptions.Asynchronous,
        };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        }

        return new FileStream(path, fileOptions);
    }

    private async Task DrainAsync(Stream opened, CancellationToken stoppingToken)
    {
        await Task.Yield();
        _file = opened;
        try
        {
            await DrainCoreAsync(stoppingToken);
        }
        finally
        {
            await _file.DisposeAsync();
        }
    }

    private async Task DrainCoreAsync(CancellationToken stoppingToken)
    {
        Log.Writing(_logger, _path);
        try
        {
            while (true)
            {
                try
                {
                    if (!await WriteBatchAsync())
                    {
                        // Nothing arrived since the last write: sleep until a record does (the next Append wakes the loop).
                        await _wake.WaitAsync(stoppingToken);
                    }
                    else if (_flushInterval > TimeSpan.Zero)
                    {
                        await Task.Delay(_flushInterval, _time, stoppingToken);
                    }
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    // A full disk is usually freed again: the loop keeps the batch and retries it, and records beyond the
                    // queue's capacity meanwhile are dropped and counted. Before, the first failure ended the loop and
                    // every later record of the edge's life was dropped without another word.
                    if (!_failing)
                    {
                        Volatile.Write(ref _failing, true);
                        Log.WriteFailed(_logger, _path, exception);
                    }

                    await Task.Delay(RetryInterval, _time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutdown: what was recorded before the host stopped still reaches the file (a kept batch, then the rest).
        try
        {
            while (await WriteBatchAsync())
            {
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Log.WriteFailed(_logger, _path, exception);
        }
    }

    /// <summary>Writes the kept batch, or what gathered since the last call; false (and the loop marked sleeping) when nothing had.</summary>
    private async Task<bool> WriteBatchAsync()
    {
        if (_pending == 0)
        {
            lock (_gate)
            {
                if (_count == 0)
                {
                    _loopSleeping = true;
                    return false;
                }

                (_writing, _filling) = (_filling, _writing);
                _pending = _filled;
                _filled = 0;
                _count = 0;
            }
        }

        var file = await FollowRotationAsync();
        var start = file.CanSeek ? file.Position : -1;
        try
        {
            if (_tornLine)
            {
                // The cut of an earlier failed write did not succeed: end its fragment so the next record starts a line.
                await file.WriteAsync(new[] { NewLine });
                _tornLine = false;
                start = file.CanSeek ? file.Position : -1;
            }

            await file.WriteAsync(_writing.AsMemory(0, _pending));
            await file.FlushAsync();
        }
        catch (IOException)
        {
            CutPartialWrite(file, start);
            throw;
        }

        _pending = 0;
        var dropped = Interlocked.Read(ref _dropped);
        if (_failing)
        {
            // One line for the outage's end, with what it dropped (not a second one from the drop count below).
            Volatile.Write(ref _failing, false);
            Log.WriteResumed(_logger, _path, dropped - _droppedReported);
            _droppedReported = dropped;
        }
        else if (dropped != _droppedReported)
        {
            Log.Dropped(_logger, dropped - _droppedReported, dropped);
            _droppedReported = dropped;
        }

        return true;
    }

    /// <summary>
    /// Log rotation without a signal to the edge: after a rename (logrotate's default, then a new file at the path) the
    /// file is opened again at its path; after <c>copytruncate</c> the next batch goes to the file's new end. Before,
    /// batches went on into the renamed file, and after a truncation they were written at the old offset, leaving the
    /// rotated file a run of zero bytes before them. Two file-status calls at most once a second, off the request path.
    /// </summary>
    private async ValueTask<Stream> FollowRotationAsync()
    {
        var file = _file!;
        if (file is not FileStream stream || !stream.CanSeek)
        {
            return file;
        }

        // At most once a second: a rotation is noticed within one, and a batch every 20 ms does not pay two file-status
        // calls (and the path lookup's bytes) each time.
        var now = _time.GetTimestamp();
        if (_rotationCheckedAt != 0 && _time.GetElapsedTime(_rotationCheckedAt, now) < RotationCheckInterval)
        {
            return file;
        }

        _rotationCheckedAt = now;

        long length;
        try
        {
            length = stream.Length;
        }
        catch (IOException)
        {
            return file;
        }

        var atPath = _atPath ??= new FileInfo(_path);
        atPath.Refresh();
        if (!atPath.Exists || atPath.Length != length)
        {
            // Opened before the old handle is let go: if the path cannot be opened now, the write below fails into the retry.
            Stream reopened;
            try
            {
                reopened = _open(_path);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // The retry checks the path again. Counted as a check, a retry whose timer fired a hair before the
                // interval took the old handle, wrote the kept batch into the file rotated away (or deleted), and
                // logged 1513 "works again" while the path still could not be opened.
                _rotationCheckedAt = 0;
                throw;
            }

            await file.DisposeAsync();
            _file = reopened;
            Log.Reopened(_logger, _path);
            return reopened;
        }

        if (length < stream.Position)
        {
            stream.Position = length;
        }

        return file;
    }

    /// <summary>
    /// A write that failed part-way (ENOSPC after some blocks) leaves the start of a line in the file: cut it off, so the
    /// batch written again starts where the failed one did, and the file stays one whole record per line.
    /// </summary>
    private void CutPartialWrite(Stream file, long start)
    {
        try
        {
            if (start >= 0)
            {
                file.SetLength(start);
                file.Position = start;
                return;
            }
        }
        catch (Exception exception) when (exception is IOException or NotSupportedException)
        {
        }

        _tornLine = true;
    }

    private static partial class Log
    {
        [LoggerMessage(1510, LogLevel.Information, "No audit writer configured: decision and event records go to {Path} (NDJSON, not durable)")]
        public static partial void Writing(ILogger logger, string path);

        [LoggerMessage(1511, LogLevel.Warning, "{Count} audit records dropped: the local audit queue was full ({Total} since start)")]
        public static partial void Dropped(ILogger logger, long count, long total);

        [LoggerMessage(1512, LogLevel.Error, "Writing audit records to {Path} failed; retrying every second, records beyond the queue's capacity are dropped meanwhile")]
        public static partial void WriteFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(1513, LogLevel.Information, "Writing audit records to {Path} works again ({Dropped} dropped while it failed)")]
        public static partial void WriteResumed(ILogger logger, string path, long dropped);

        [LoggerMessage(1514, LogLevel.Information, "The audit file {Path} was rotated away (renamed or removed); writing to a new file at that path")]
        public static partial void Reopened(ILogger logger, string path);

        [LoggerMessage(1515, LogLevel.Error, "The audit records still queued for {Path} were not written within {Timeout} of the shutdown; they are lost")]
        public static partial void FinalWriteIncomplete(ILogger logger, string path, TimeSpan timeout);
    }
}
