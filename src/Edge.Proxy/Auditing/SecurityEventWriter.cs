using System.Collections.Concurrent;
using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Appends the record of a security event (config change, key rotation, ban, approval) where decision records go: the
/// spool with a writer, the local NDJSON file without one, nowhere when neither is configured. The event has already
/// happened, so a full queue is counted and logged and a failed append logged; neither reaches the caller.
/// </summary>
internal sealed partial class SecurityEventWriter(IAuditEventAppender? appender, EdgeHostOptions host, TimeProvider time, ILogger<SecurityEventWriter> logger)
{
    /// <summary>
    /// At most one 1505 and one 1507 line per event type in this interval: a client that breaks off downloads makes one
    /// response.incomplete event per request, and at the spool's cap each wrote an Error line of its own.
    /// </summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, LogWindow> _droppedLog = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LogWindow> _failedLog = new(StringComparer.Ordinal);

    public bool IsConfigured => appender is not null;

    /// <summary>False while the spool is at its cap (less than an admission reserve left) or failing.</summary>
    public bool HasRoom => appender is null || appender.HasRoomForEvent;

    /// <summary>A record of this instance, stamped now, for an event with no request behind it.</summary>
    public AuditRecord NewRecord(string type, string decision, string step, string? reason, Dictionary<string, string> attributes) => new()
    {
        Id = Guid.CreateVersion7().ToString("N"),
        Type = type,
        Time = time.GetUtcNow(),
        Instance = host.InstanceId,
        Decision = decision,
        Step = step,
        Reason = reason,
        Attributes = attributes,
    };

    /// <summary>Enqueues without waiting for the append; records keep the order of the calls. <paramref name="admitted"/>: as in <see cref="AppendAsync"/>.</summary>
    public void Append(AuditRecord record, bool admitted = false)
    {
        var append = AppendAsync(record, admitted);
        if (!append.IsCompletedSuccessfully)
        {
            _ = append.AsTask();
        }
    }

    /// <summary>
    /// Completes once the record is appended (with a writer: durable in the spool). <paramref name="admitted"/>: the
    /// caller checked <see cref="HasRoom"/> before the event happened, or the event ends a request admitted at the cap
    /// check, so the record is kept even if the spool reached its cap since.
    /// </summary>
    public async ValueTask AppendAsync(AuditRecord record, bool admitted = false)
    {
        if (appender is null)
        {
            return;
        }

        try
        {
            if (!await appender.TryAppendAsync(AuditRecordSerializer.Serialize(record), admitted).ConfigureAwait(false))
            {
                appender.RecordDropped();
                if (_droppedLog.GetOrAdd(record.Type, static _ => new LogWindow(LogInterval)).TryTake(time, out var unlogged))
                {
                    Log.Dropped(logger, record.Type, unlogged);
                }
            }
        }
        catch (Exception ex)
        {
            if (_failedLog.GetOrAdd(record.Type, static _ => new LogWindow(LogInterval)).TryTake(time, out var unlogged))
            {
                Log.AppendFailed(logger, record.Type, unlogged, ex);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1505, LogLevel.Error, "Audit record for security event {Type} dropped: the audit spool or local queue is full; {Unlogged} more of this type dropped since the previous such line (at most one a minute per type; edge_audit_dropped_total counts them all)")]
        public static partial void Dropped(ILogger logger, string type, long unlogged);

        [LoggerMessage(1507, LogLevel.Error, "Audit record for security event {Type} could not be appended; {Unlogged} more of this type failed since the previous such line (at most one a minute per type)")]
        public static partial void AppendFailed(ILogger logger, string type, long unlogged, Exception exception);
    }
}
