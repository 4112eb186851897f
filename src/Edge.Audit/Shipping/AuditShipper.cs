using System.Buffers;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Spool;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Shipping;

/// <summary>
/// Streams the spool to a writer: one batch in flight, each batch retried until a writer acknowledges it (cumulatively,
/// after its durable commit); only then the spool's ack mark advances. With several writers the shipper stays on the
/// current one and moves to the next on a transport failure, a 5xx (but <c>ingest_busy</c>) or a <c>writer_standby</c> answer, re-sending the same
/// batch (writers ignore a record id they already hold); it pauses with backoff only after every writer failed in a row.
/// </summary>
public sealed partial class AuditShipper : IAsyncDisposable
{
    /// <summary>The <c>code</c> a standby writer answers ingest with (503 problem+json).</summary>
    public const string StandbyCode = "writer_standby";

    // A standby answer is a short problem document; a larger body is not one and is not read.
    private const int MaxProblemBytes = 16 * 1024;

    private readonly AuditSpool _spool;
    private readonly ShipperOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Uri[] _writers;
    private readonly string[] _writerLabels;
    private readonly ShipperMetrics _metrics;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ArrayBufferWriter<byte> _body = new(64 * 1024);
    private int _current;
    private long _failovers;
    // Lowered when a writer refuses a batch as too large (Writer:MaxIngestBytes below the edge's batch size): before,
    // the same batch was sent again forever and nothing was shipped until one of the two settings changed.
    private int _batchBytes;
    // Lowered while a writer refuses a batch over one of its records (record_too_large, invalid_record): halved until the
    // refused record goes alone and is quarantined; back to MaxBatchRecords once the records of the refused batch shipped.
    private int _batchRecords;
    private long _narrowedThrough;
    private Task? _loop;

    public AuditShipper(
        AuditSpool spool, ShipperOptions options, ILogger logger, HttpMessageHandler? handler = null, TimeProvider? time = null,
        IMeterFactory? meterFactory = null)
    {
        _spool = spool ?? throw new ArgumentNullException(nameof(spool));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? TimeProvider.System;
        if (options.WriterUrls.Count == 0)
        {
            throw new ArgumentException("At least one writer URL is required.", nameof(options));
        }

        _batchBytes = options.MaxBatchBytes;
        _batchRecords = options.MaxBatchRecords;
        _writers = [.. options.WriterUrls];
        _writerLabels = [.. _writers.Select(Label)];
        _metrics = new ShipperMetrics(_writerLabels, () => Volatile.Read(ref _current), meterFactory);
        _http = new HttpClient(handler ?? new Edge.Shared.OutgoingCallTagHandler("audit_shipper", new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), ConnectTimeout = TimeSpan.FromSeconds(2) }))
        {
            Timeout = options.RequestTimeout,
        };
    }

    /// <summary>The writer batches go to now (scheme, host and port).</summary>
    public string CurrentWriter => _writerLabels[Volatile.Read(ref _current)];

    /// <summary>How often the shipper moved to the next writer since it started.</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

    public void Start()
    {
        if (_loop is null)
        {
            Log.Shipping(_logger, CurrentWriter, _writers.Length);
            _loop = Task.Run(() => SuperviseAsync(_stopping.Token));
        }
    }

    /// <summary>Graceful drain: waits until everything durable in the spool is acknowledged, or the token fires.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        while (_spool.AckedSequence < _spool.DurableSequence)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _http.Dispose();
        _metrics.Dispose();
        _stopping.Dispose();
    }

    /// <summary>
    /// Runs the loop and starts it again (from the ack mark, after a pause) if it ever fails: a loop that ended on an
    /// unforeseen exception left records piling up unshipped with nothing in the log until the shutdown rethrew it.
    /// </summary>
    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var backoff = _options.InitialBackoff;
        while (true)
        {
            try
            {
                await RunAsync(stopping).ConfigureAwait(false);
                return;
            }
#pragma warning disable CA1031 // Any failure of the loop is logged and the loop restarted; only a stop ends it.
            catch (Exception exception) when (!stopping.IsCancellationRequested)
#pragma warning restore CA1031
            {
                Log.LoopFailed(_logger, _spool.AckedSequence, exception);
            }

            await Task.Delay(backoff, _time, stopping).ConfigureAwait(false);
            backoff = Doubled(backoff);
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        // The cursor starts at the recovered ack mark, so the spool must be open first (a no-op when the host opened it).
        await _spool.StartAsync(stopping).ConfigureAwait(false);
        var cursor = _spool.CreateCursor();
        try
        {
            var readBackoff = _options.InitialBackoff;
            var readFailures = 0;
            var idleDeleted = false;
            while (!stopping.IsCancellationRequested)
            {
                // One buffer for every post: frames are read from the spool straight into it, and it stays unchanged
                // until the batch is acknowledged (retries and failovers send the same bytes).
                _body.ResetWrittenCount();
                SpoolBatch batch;
                try
                {
                    batch = _spool.ReadBatch(cursor, _batchRecords, _batchBytes, _body);
                }
                catch (Exception exception) when (exception is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    // A frame that does not read back (a damaged or truncated segment, a failing disk) would otherwise end
                    // the loop without a word while records pile up unshipped. Nothing past it is skipped: the spool keeps
                    // every record, the backlog gauges grow, and the read is tried again after a pause.
                    readFailures++;
                    if (readFailures == 1 || readFailures % 50 == 0)
                    {
                        Log.ReadFailed(_logger, cursor.NextSequence, readFailures, exception);
                    }

                    // The failed read may have moved the cursor past frames it had copied into the body: start again at
                    // the first record the writer has not acknowledged, so none of them is skipped.
                    cursor.Dispose();
                    cursor = _spool.CreateCursor();

                    await Task.Delay(readBackoff, _time, stopping).ConfigureAwait(false);
                    readBackoff = Doubled(readBackoff);
                    continue;
                }

                if (readFailures > 0)
                {
                    Log.ReadRecovered(_logger, readFailures);
                    (readFailures, readBackoff) = (0, _options.InitialBackoff);
                }

                if (batch.Count == 0)
                {
                    if (idleDeleted)
                    {
                        await _spool.WaitForDurableAsync(cursor.NextSequence - 1, stopping).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        await _spool.WaitForDurableAsync(cursor.NextSequence - 1, stopping)
                            .WaitAsync(_options.IdleSpoolDeleteAfter, _time, stopping).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        // Idle with everything acknowledged: the records in the active segment are the writer's now, and
                        // the segment goes rather than keeping them (principals, client addresses) until it fills.
                        idleDeleted = true;
                        if (_spool.DeleteAcknowledged())
                        {
                            // The cursor still holds the deleted file open; a new one lets it go.
                            cursor.Dispose();
                            cursor = _spool.CreateCursor();
                        }
                    }

                    continue;
                }

                idleDeleted = false;

                var readLimit = _batchRecords;
                var shipped = await ShipUntilAcknowledgedAsync(_body.WrittenMemory, batch.LastSequence, batch.Count, stopping).ConfigureAwait(false);
                if (shipped == Shipped.RecordRefused)
                {
                    // The refused record is somewhere in this batch: the same records again in batches half this long, so
                    // the ones before it ship and it ends up alone (about 11 posts for a batch of 2,000).
                    _batchRecords = Math.Max(1, batch.Count / 2);
                    _narrowedThrough = Math.Max(_narrowedThrough, batch.LastSequence);
                    cursor.Dispose();
                    cursor = _spool.CreateCursor();
                    continue;
                }

                if (_batchRecords < _options.MaxBatchRecords && _spool.AckedSequence >= _narrowedThrough)
                {
                    _batchRecords = _options.MaxBatchRecords;
                }

                if (shipped == Shipped.Quarantined)
                {
                    continue;
                }

                if (shipped == Shipped.TooLarge)
                {
                    // Too large for the writer: the same records again, in batches half this size (at least one record). Half
                    // of the cap, too: a read takes the record that crosses the cap, so half of what was sent could be the
                    // same batch again, sent without a pause for ever (a large record behind smaller ones).
                    _batchBytes = Math.Max(1, Math.Min(_batchBytes, _body.WrittenCount) / 2);
                    Log.BatchTooLarge(_logger, CurrentWriter, _body.WrittenCount, batch.Count, _batchBytes);
                    cursor.Dispose();
                    cursor = _spool.CreateCursor();
                    continue;
                }

                // A batch cut short by the narrowing above is not a drained spool: no pause after it.
                if (batch.Count < readLimit && _options.ShipInterval > TimeSpan.Zero)
                {
                    await Task.Delay(_options.ShipInterval, _time, stopping).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            cursor.Dispose();
        }
    }

    /// <summary>
    /// <see cref="Shipped.TooLarge"/> when the writer refused the batch as too large and it holds more than one record;
    /// <see cref="Shipped.RecordRefused"/> when it refused one of the batch's records and the batch holds more than one;
    /// <see cref="Shipped.Quarantined"/> when it refused the batch's only record and that record was set aside.
    /// </summary>
    private async Task<Shipped> ShipUntilAcknowledgedAsync(ReadOnlyMemory<byte> body, long last, int count, CancellationToken stopping)
    {
        var canSplit = count > 1;
        var backoff = _options.InitialBackoff;
        var failures = 0;
        // Writers that failed one after the other since the last pause; a pause comes only when each had its turn.
        var failedInARow = 0;
        while (true)
        {
            stopping.ThrowIfCancellationRequested();
            var current = Volatile.Read(ref _current);
            var attempt = await PostAsync(_writers[current], body, last, stopping).ConfigureAwait(false);
            if (attempt.Failure is null)
            {
                if (attempt.Acked >= last)
                {
                    await AcknowledgeAsync(last, stopping).ConfigureAwait(false);
                    if (failures > 0)
                    {
                        Log.Reconnected(_logger, _writerLabels[current], failures);
                    }

                    return Shipped.Acknowledged;
                }

                Log.ShortAck(_logger, _writerLabels[current], attempt.Acked, last);
            }
            else if (attempt.Failure is WriterFailure.TooLarge && canSplit)
            {
                return Shipped.TooLarge;
            }
            else if (attempt.Failure is WriterFailure.RecordRefused && canSplit)
            {
                return Shipped.RecordRefused;
            }
            else if (attempt.Failure is WriterFailure.RecordRefused && TryQuarantine(body, last, _writerLabels[current], attempt, failures + 1))
            {
                return Shipped.Quarantined;
            }
            else
            {
                failures++;
                if (failures == 1 || failures % 50 == 0)
                {
                    Log.ShipFailed(_logger, _writerLabels[current], failures, attempt.Detail);
                }

                // A busy writer is the sequencer: the others would answer standby, so the batch waits for this one.
                if (attempt.Failure is not (WriterFailure.Refused or WriterFailure.TooLarge or WriterFailure.RecordRefused or WriterFailure.Busy)
                    && _writers.Length > 1)
                {
                    var next = (current + 1) % _writers.Length;
                    Volatile.Write(ref _current, next);
                    Interlocked.Increment(ref _failovers);
                    var reason = ReasonTag(attempt.Failure.Value);
                    _metrics.Failover(_writerLabels[current], reason);
                    if (failures <= _writers.Length || failures % 50 == 0)
                    {
                        Log.FailedOver(_logger, _writerLabels[current], _writerLabels[next], reason);
                    }

                    if (++failedInARow < _writers.Length)
                    {
                        continue;
                    }
                }
            }

            failedInARow = 0;
            var jitter = Random.Shared.NextDouble() * 0.5 + 0.75;
            await Task.Delay(backoff * jitter, _time, stopping).ConfigureAwait(false);
            backoff = Doubled(backoff);
        }
    }

    /// <summary>
    /// Sets aside the one record of <paramref name="body"/> (<see cref="AuditSpool.Quarantine"/>) that the writer refused as
    /// a record: no later batch gets past it otherwise, and the spool fills up to its cap. False (the batch is then retried
    /// after the backoff, as any 4xx, and counted there) when the quarantine is full or cannot be written; its log line comes
    /// on the first and every 50th of <paramref name="attempts"/>.
    /// </summary>
    private bool TryQuarantine(ReadOnlyMemory<byte> body, long sequence, string writer, PostAttempt attempt, int attempts)
    {
        var reason = attempt.Detail;
        try
        {
            // The body is the record and its newline.
            var record = body[..^1];
            if (_spool.Quarantine(sequence, record.Span) is { } path)
            {
                Log.Quarantined(_logger, writer, sequence, reason, path);
                var (id, type) = IdAndType(record.Span);
                _options.Quarantined?.Invoke(new QuarantinedRecord(sequence, id, type, attempt.Code ?? "", writer, path));
                return true;
            }

            if (attempts == 1 || attempts % 50 == 0)
            {
                Log.QuarantineFull(_logger, writer, sequence, reason, _spool.QuarantineDirectory, attempts);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            if (attempts == 1 || attempts % 50 == 0)
            {
                Log.QuarantineFailed(_logger, writer, sequence, reason, attempts, exception);
            }
        }

        return false;
    }

    /// <summary>The top-level <c>id</c> and <c>type</c> of a record, each null when missing or when it does not read as JSON.</summary>
    private static (string? Id, string? Type) IdAndType(ReadOnlySpan<byte> record)
    {
        string? id = null;
        string? type = null;
        try
        {
            var reader = new Utf8JsonReader(record);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (null, null);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("id"u8);
                var isType = reader.ValueTextEquals("type"u8);
                reader.Read();
                if ((isId || isType) && reader.TokenType == JsonTokenType.String)
                {
                    var value = reader.GetString();
                    if (isId)
                    {
                        id = value;
                    }
                    else
                    {
                        type = value;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Not JSON (an invalid record) past what was read: what was found is kept.
        }

        return (id, type);
    }

    /// <summary>
    /// Persists the writer's acknowledgement, retrying with backoff while the spool cannot (a full disk, a read-only or
    /// removed spool directory). Until it can, nothing further is shipped and the backlog gauges grow; the writer already
    /// holds the batch, and a batch sent again is acknowledged without duplicates.
    /// </summary>
    private async Task AcknowledgeAsync(long last, CancellationToken stopping)
    {
        var backoff = _options.InitialBackoff;
        var failures = 0;
        while (true)
        {
            try
            {
                _spool.Acknowledge(last);
                if (failures > 0)
                {
                    Log.AckPersisted(_logger, last, failures);
                }

                return;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Before, this ended the shipping loop without a word: no record was shipped again until a restart.
                failures++;
                if (failures == 1 || failures % 50 == 0)
                {
                    Log.AckPersistFailed(_logger, last, failures, exception);
                }
            }

            await Task.Delay(backoff, _time, stopping).ConfigureAwait(false);
            backoff = Doubled(backoff);
        }
    }

    /// <summary>The next pause after a failure: twice the last one, at most <see cref="ShipperOptions.MaxBackoff"/>.</summary>
    private TimeSpan Doubled(TimeSpan backoff) => TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));

    private async Task<PostAttempt> PostAsync(Uri writer, ReadOnlyMemory<byte> body, long last, CancellationToken stopping)
    {
        using var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(writer, IngestProtocol.Path)) { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, last.ToString(CultureInfo.InvariantCulture));
        if (_options.IngestToken is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            using var response = await _http.SendAsync(request, stopping).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status >= 500)
            {
                var code = status == (int)HttpStatusCode.ServiceUnavailable ? await ReadProblemCodeAsync(response, stopping).ConfigureAwait(false) : null;
                return code switch
                {
                    StandbyCode => PostAttempt.Failed(WriterFailure.Standby, $"The writer answered {status} {StandbyCode}."),
                    IngestProtocol.BusyCode => PostAttempt.Failed(WriterFailure.Busy, $"The writer answered {status} {IngestProtocol.BusyCode}.", code),
                    _ => PostAttempt.Failed(WriterFailure.ServerError, code is null ? $"The writer answered {status}." : $"The writer answered {status} {code}.", code),
                };
            }

            if (!response.IsSuccessStatusCode)
            {
                // A 4xx is about the request or its token; the next writer would most likely answer the same. Its problem
                // code (ingest_unauthenticated, ingest_local_only) is what tells the operator which setting is missing.
                var code = await ReadProblemCodeAsync(response, stopping).ConfigureAwait(false);
                // A record over the writer's record cap is too large in any batch, and an invalid record is invalid in any
                // batch: the batch is narrowed down to that record, which is then quarantined (RecordRefused).
                var failure = status == (int)HttpStatusCode.RequestEntityTooLarge && code == IngestProtocol.RecordTooLargeCode
                              || status == (int)HttpStatusCode.BadRequest && code == IngestProtocol.InvalidRecordCode
                    ? WriterFailure.RecordRefused
                    : status == (int)HttpStatusCode.RequestEntityTooLarge ? WriterFailure.TooLarge : WriterFailure.Refused;
                return PostAttempt.Failed(failure, code is null ? $"The writer answered {status}." : $"The writer answered {status} {code}.", code);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(stopping).ConfigureAwait(false);
            using var document = await JsonDocument.ParseAsync(stream, cancellationToken: stopping).ConfigureAwait(false);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("acked", out var acked) && acked.TryGetInt64(out var value)
                ? PostAttempt.Acknowledged(value)
                : PostAttempt.Failed(WriterFailure.Refused, "The writer's answer has no 'acked' sequence.");
        }
        catch (JsonException exception)
        {
            return PostAttempt.Failed(WriterFailure.Refused, $"The writer's answer is not JSON: {exception.Message}");
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException
                                          || exception is TaskCanceledException && !stopping.IsCancellationRequested)
        {
            // Refused connection, reset, or no answer within RequestTimeout. A transport failure is one also when the stop
            // came in between it and this filter: let through, it ended the loop and the edge with SIGABRT (134) when a
            // start failed (a taken port) while the first batch met a writer not yet up. The next wait sees the stop.
            return PostAttempt.Failed(WriterFailure.Transport, exception.Message);
        }
    }

    /// <summary>The <c>code</c> of a problem+json answer (at most <see cref="MaxProblemBytes"/> read), or null.</summary>
    private static async Task<string?> ReadProblemCodeAsync(HttpResponseMessage response, CancellationToken stopping)
    {
        if (response.Content.Headers.ContentType?.MediaType is not "application/problem+json"
            || response.Content.Headers.ContentLength > MaxProblemBytes)
        {
            return null;
        }

        // Problem documents are usually sent chunked, without a length: read at most the cap.
        var buffer = new byte[MaxProblemBytes];
        var length = 0;
        await using var stream = await response.Content.ReadAsStreamAsync(stopping).ConfigureAwait(false);
        int read;
        while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), stopping).ConfigureAwait(false)) > 0)
        {
            length += read;
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("code", out var code)
                   && code.ValueKind == JsonValueKind.String
                   && code.GetString() is { Length: > 0 and <= 64 } text
                   && text.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or ':')
                ? text
                : null;
        }
        catch (JsonException)
        {
            // Not a problem document (or longer than the cap).
            return null;
        }
    }

    private static string ReasonTag(WriterFailure failure) => failure switch
    {
        WriterFailure.Transport => "transport",
        WriterFailure.ServerError => "server_error",
        WriterFailure.Standby => "standby",
        _ => "refused",
    };

    /// <summary>A writer's name in logs and metrics: scheme, host and port (a URL with user info is refused by config).</summary>
    private static string Label(Uri writer) => $"{writer.Scheme}://{writer.Authority}";

    private enum WriterFailure
    {
        /// <summary>No answer: connection refused or reset, or the request timed out.</summary>
        Transport,

        /// <summary>A 5xx other than the standby answer.</summary>
        ServerError,

        /// <summary>503 problem+json <c>writer_standby</c>: the writer is up but another one is the sequencer.</summary>
        Standby,

        /// <summary>
        /// 503 problem+json <see cref="IngestProtocol.BusyCode"/>: the sequencer holds as many batches as it takes at once;
        /// retried on the same writer after a pause, as <see cref="Refused"/>.
        /// </summary>
        Busy,

        /// <summary>A 4xx or an answer that is not an acknowledgement: retried on the same writer after a pause.</summary>
        Refused,

        /// <summary>
        /// 413 other than <see cref="IngestProtocol.RecordTooLargeCode"/>: the batch is over the writer's Writer:MaxIngestBytes;
        /// sent again in smaller batches (one record: as Refused).
        /// </summary>
        TooLarge,

        /// <summary>
        /// 413 <see cref="IngestProtocol.RecordTooLargeCode"/> or 400 <see cref="IngestProtocol.InvalidRecordCode"/>: one of
        /// the batch's records, which no batch gets past; narrowed down to it, and it is quarantined.
        /// </summary>
        RecordRefused,
    }

    private enum Shipped
    {
        Acknowledged,
        TooLarge,
        RecordRefused,
        Quarantined,
    }

    private readonly record struct PostAttempt(long Acked, WriterFailure? Failure, string Detail, string? Code = null)
    {
        public static PostAttempt Acknowledged(long acked) => new(acked, null, "");

        public static PostAttempt Failed(WriterFailure failure, string detail, string? code = null) => new(0, failure, detail, code);
    }

    // Logged under the edge's Auditing range (1500-1599): the shipper runs inside the edge.
    private static partial class Log
    {
        [LoggerMessage(1530, LogLevel.Warning, "Shipping audit records to writer {Writer} failed ({Failures} attempts so far): {Reason}")]
        public static partial void ShipFailed(ILogger logger, string writer, int failures, string reason);

        [LoggerMessage(1531, LogLevel.Information, "Audit writer {Writer} acknowledged again after {Failures} failed attempts")]
        public static partial void Reconnected(ILogger logger, string writer, int failures);

        [LoggerMessage(1532, LogLevel.Error, "Audit writer {Writer} acknowledged {Acked} for a batch ending at {Last}; retrying")]
        public static partial void ShortAck(ILogger logger, string writer, long acked, long last);

        [LoggerMessage(1533, LogLevel.Warning, "Audit writer {Writer} failed ({Reason}); the same batch goes to {Next}")]
        public static partial void FailedOver(ILogger logger, string writer, string next, string reason);

        [LoggerMessage(1534, LogLevel.Information, "Shipping audit records to writer {Writer} ({Count} writers configured)")]
        public static partial void Shipping(ILogger logger, string writer, int count);

        [LoggerMessage(1535, LogLevel.Error, "Reading the audit spool at sequence {Sequence} failed ({Failures} attempts so far); nothing is shipped until it reads")]
        public static partial void ReadFailed(ILogger logger, long sequence, int failures, Exception exception);

        [LoggerMessage(1536, LogLevel.Information, "The audit spool reads again after {Failures} failed attempts")]
        public static partial void ReadRecovered(ILogger logger, int failures);

        [LoggerMessage(1537, LogLevel.Error, "The writer acknowledged the audit spool up to sequence {Sequence}, but the spool cannot record it ({Failures} attempts so far); nothing is shipped until it can")]
        public static partial void AckPersistFailed(ILogger logger, long sequence, int failures, Exception exception);

        [LoggerMessage(1538, LogLevel.Information, "The audit spool recorded the acknowledgement up to sequence {Sequence} after {Failures} failed attempts")]
        public static partial void AckPersisted(ILogger logger, long sequence, int failures);

        [LoggerMessage(1542, LogLevel.Warning, "Audit writer {Writer} refused a batch of {Bytes} bytes ({Records} records) as too large; batches are now at most {Limit} bytes")]
        public static partial void BatchTooLarge(ILogger logger, string writer, int bytes, int records, int limit);

        [LoggerMessage(1544, LogLevel.Error, "Audit writer {Writer} refused the record at spool sequence {Sequence} ({Reason}); it is kept in {Path} instead of the writer's log, and shipping goes on past it (edge_audit_quarantined_total)")]
        public static partial void Quarantined(ILogger logger, string writer, long sequence, string reason, string path);

        [LoggerMessage(1545, LogLevel.Error, "Audit writer {Writer} refused the record at spool sequence {Sequence} ({Reason}), and the quarantine {Directory} is full ({Failures} attempts so far); nothing is shipped past it until the writer takes it or the quarantine has room")]
        public static partial void QuarantineFull(ILogger logger, string writer, long sequence, string reason, string directory, int failures);

        [LoggerMessage(1546, LogLevel.Error, "Audit writer {Writer} refused the record at spool sequence {Sequence} ({Reason}), and it cannot be quarantined ({Failures} attempts so far); nothing is shipped past it until it can")]
        public static partial void QuarantineFailed(ILogger logger, string writer, long sequence, string reason, int failures, Exception exception);

        [LoggerMessage(1539, LogLevel.Critical, "The audit shipping loop failed; it starts again from the acknowledged sequence {Sequence}")]
        public static partial void LoopFailed(ILogger logger, long sequence, Exception exception);
    }
}
