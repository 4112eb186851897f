using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Spool;
using Microsoft.Extensions.Logging;

namespace Edge.Audit.Shipping;

/// <summary>
/// Streams the spool to the writer: one batch in flight, each batch retried with backoff until the writer
/// acknowledges it (cumulatively, after its durable commit); only then the spool's ack mark advances.
/// </summary>
public sealed partial class AuditShipper : IAsyncDisposable
{
    private readonly AuditSpool _spool;
    private readonly ShipperOptions _options;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public AuditShipper(AuditSpool spool, ShipperOptions options, ILogger logger, HttpMessageHandler? handler = null)
    {
        _spool = spool ?? throw new ArgumentNullException(nameof(spool));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), ConnectTimeout = TimeSpan.FromSeconds(2) })
        {
            BaseAddress = options.WriterUrl,
            Timeout = options.RequestTimeout,
        };
    }

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stopping.Token));

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
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        // The cursor starts at the recovered ack mark, so the spool must be open first (a no-op when the host opened it).
        await _spool.StartAsync(stopping).ConfigureAwait(false);
        using var cursor = _spool.CreateCursor();
        while (!stopping.IsCancellationRequested)
        {
            var batch = _spool.Read(cursor, _options.MaxBatchRecords, _options.MaxBatchBytes);
            if (batch.Count == 0)
            {
                await _spool.WaitForDurableAsync(cursor.NextSequence - 1, stopping).ConfigureAwait(false);
                continue;
            }

            await ShipUntilAcknowledgedAsync(batch, stopping).ConfigureAwait(false);
            if (batch.Count < _options.MaxBatchRecords && _options.ShipInterval > TimeSpan.Zero)
            {
                await Task.Delay(_options.ShipInterval, stopping).ConfigureAwait(false);
            }
        }
    }

    private async Task ShipUntilAcknowledgedAsync(IReadOnlyList<SpooledRecord> batch, CancellationToken stopping)
    {
        var body = BuildBody(batch);
        var last = batch[^1].Sequence;
        var backoff = _options.InitialBackoff;
        var failures = 0;
        while (true)
        {
            stopping.ThrowIfCancellationRequested();
            try
            {
                var acked = await PostAsync(body, last, stopping).ConfigureAwait(false);
                if (acked >= last)
                {
                    _spool.Acknowledge(last);
                    if (failures > 0)
                    {
                        Log.Reconnected(_logger, failures);
                    }

                    return;
                }

                Log.ShortAck(_logger, acked, last);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException or InvalidDataException
                                              && !stopping.IsCancellationRequested)
            {
                failures++;
                if (failures == 1 || failures % 50 == 0)
                {
                    Log.ShipFailed(_logger, failures, exception.Message);
                }
            }

            var jitter = Random.Shared.NextDouble() * 0.5 + 0.75;
            await Task.Delay(backoff * jitter, stopping).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
        }
    }

    private async Task<long> PostAsync(byte[] body, long last, CancellationToken stopping)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, IngestProtocol.Path) { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, last.ToString(CultureInfo.InvariantCulture));
        if (_options.IngestToken is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await _http.SendAsync(request, stopping).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"The writer answered {(int)response.StatusCode}.", null, response.StatusCode);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(stopping).ConfigureAwait(false);
        using var document = await JsonDocument.ParseAsync(stream, cancellationToken: stopping).ConfigureAwait(false);
        if (!document.RootElement.TryGetProperty("acked", out var acked) || !acked.TryGetInt64(out var value))
        {
            throw new InvalidDataException("The writer's answer has no 'acked' sequence.");
        }

        return value;
    }

    private static byte[] BuildBody(IReadOnlyList<SpooledRecord> batch)
    {
        var length = batch.Sum(r => r.Payload.Length + 1);
        var body = new byte[length];
        var offset = 0;
        foreach (var record in batch)
        {
            record.Payload.CopyTo(body, offset);
            offset += record.Payload.Length;
            body[offset++] = (byte)'\n';
        }

        return body;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Shipping audit records to the writer failed ({Failures} attempts so far): {Reason}")]
        public static partial void ShipFailed(ILogger logger, int failures, string reason);

        [LoggerMessage(2, LogLevel.Information, "Audit writer reachable again after {Failures} failed attempts")]
        public static partial void Reconnected(ILogger logger, int failures);

        [LoggerMessage(3, LogLevel.Error, "The audit writer acknowledged {Acked} for a batch ending at {Last}; retrying")]
        public static partial void ShortAck(ILogger logger, long acked, long last);
    }
}
