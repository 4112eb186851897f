using System.Threading.Channels;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Auditing;

/// <summary>
/// The default without <c>Edge:Audit:WriterUrl</c>: each decision is serialised on the request (the same canonical
/// record bytes the spool ships to the writer) and handed to a bounded queue; one background loop appends the records
/// as NDJSON lines to <c>Edge:Audit:LocalFile</c> and flushes once per batch, then lets records gather for
/// <c>Edge:Audit:LocalFlushInterval</c>, so a steady trickle costs one write per interval instead of one per request.
/// The request never waits for the file.
/// When the queue is full the record is dropped and counted, and the count is logged by the loop; this mode promises
/// no durability (configure a writer for that). Security events (config, threat, approval) take the same queue through
/// <see cref="IAuditEventAppender"/>, so the file holds every record a writer would have received.
/// </summary>
internal sealed partial class LocalFileAuditSink : IHostedService, IAuditSink, IAuditEventAppender, IDisposable
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private readonly Channel<ArraySegment<byte>> _records;
    private readonly string _path;
    private readonly EdgeHostOptions _host;
    private readonly TimeProvider _time;
    private readonly TimeSpan _flushInterval;
    private readonly ILogger<LocalFileAuditSink> _logger;
    private long _dropped;
    private long _droppedReported;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public LocalFileAuditSink(IOptions<EdgeAuditOptions> options, EdgeHostOptions host, TimeProvider time, ILogger<LocalFileAuditSink> logger)
    {
        _path = Path.GetFullPath(options.Value.LocalFile!);
        _host = host;
        _time = time;
        _flushInterval = options.Value.LocalFlushInterval;
        _logger = logger;
        _records = Channel.CreateBounded<ArraySegment<byte>>(new BoundedChannelOptions(options.Value.LocalQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string FilePath => _path;

    /// <summary>Records dropped because the queue was full, since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ValueTask RecordAsync(HttpContext context, EdgeRequestFeature request)
    {
        // Pooled bytes: the drain loop returns them to the pool once they are in the file.
        var record = PooledRecordBytes.Serialize(DecisionRecords.Build(context, request, _host, _time));
        if (!_records.Writer.TryWrite(record))
        {
            PooledRecordBytes.Return(record);
            Interlocked.Increment(ref _dropped);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> TryAppendAsync(byte[] record)
    {
        // The drain loop hands every record it wrote back to the pool, so an event travels as a rented copy.
        var pooled = PooledRecordBytes.Copy(record);
        if (_records.Writer.TryWrite(pooled))
        {
            return ValueTask.FromResult(true);
        }

        PooledRecordBytes.Return(pooled);
        return ValueTask.FromResult(false);
    }

    public void RecordDropped() => Interlocked.Increment(ref _dropped);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Started directly (not through Task.Run with the stop token), so a stop right after start still drains the queue.
        _loop = DrainAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken);
    }

    public void Dispose() => _stopping.Dispose();

    private async Task DrainAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        FileStream file;
        try
        {
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
            file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.Asynchronous);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            Log.WriteFailed(_logger, _path, exception);
            return;
        }

        await using var _ = file;
        Log.Writing(_logger, _path);
        var reader = _records.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                await WriteAvailableAsync(reader, file);
                if (_flushInterval > TimeSpan.Zero)
                {
                    await Task.Delay(_flushInterval, _time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (IOException exception)
        {
            Log.WriteFailed(_logger, _path, exception);
            return;
        }

        // Shutdown: what was queued before the host stopped still reaches the file.
        await WriteAvailableAsync(reader, file);
    }

    private async Task WriteAvailableAsync(ChannelReader<ArraySegment<byte>> reader, FileStream file)
    {
        while (reader.TryRead(out var record))
        {
            try
            {
                await file.WriteAsync(record);
                await file.WriteAsync(NewLine);
            }
            finally
            {
                PooledRecordBytes.Return(record);
            }
        }

        await file.FlushAsync();
        var dropped = Interlocked.Read(ref _dropped);
        if (dropped != _droppedReported)
        {
            Log.Dropped(_logger, dropped - _droppedReported, dropped);
            _droppedReported = dropped;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1510, LogLevel.Information, "No audit writer configured: decision and event records go to {Path} (NDJSON, not durable)")]
        public static partial void Writing(ILogger logger, string path);

        [LoggerMessage(1511, LogLevel.Warning, "{Count} audit records dropped: the local audit queue was full ({Total} since start)")]
        public static partial void Dropped(ILogger logger, long count, long total);

        [LoggerMessage(1512, LogLevel.Error, "Writing audit records to {Path} failed; later records are dropped")]
        public static partial void WriteFailed(ILogger logger, string path, Exception exception);
    }
}
