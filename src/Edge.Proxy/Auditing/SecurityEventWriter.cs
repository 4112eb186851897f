using Edge.Audit.Records;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Appends the record of a security event (config change, key rotation, ban, approval) where decision records go: the
/// spool with a writer, the local NDJSON file without one, nowhere when neither is configured. The event has already
/// happened, so a full queue is counted and logged and a failed append logged; neither reaches the caller.
/// </summary>
internal sealed partial class SecurityEventWriter(IAuditEventAppender? appender, EdgeHostOptions host, TimeProvider time, ILogger<SecurityEventWriter> logger)
{
    public bool IsConfigured => appender is not null;

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

    /// <summary>Enqueues without waiting for the append; records keep the order of the calls.</summary>
    public void Append(AuditRecord record)
    {
        var append = AppendAsync(record);
        if (!append.IsCompletedSuccessfully)
        {
            _ = append.AsTask();
        }
    }

    /// <summary>Completes once the record is appended (with a writer: durable in the spool).</summary>
    public async ValueTask AppendAsync(AuditRecord record)
    {
        if (appender is null)
        {
            return;
        }

        try
        {
            if (!await appender.TryAppendAsync(AuditRecordSerializer.Serialize(record)).ConfigureAwait(false))
            {
                appender.RecordDropped();
                Log.Dropped(logger, record.Type);
            }
        }
        catch (Exception ex)
        {
            Log.AppendFailed(logger, record.Type, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1505, LogLevel.Error, "Audit record for security event {Type} dropped: the audit spool or local queue is full")]
        public static partial void Dropped(ILogger logger, string type);

        [LoggerMessage(1507, LogLevel.Error, "Audit record for security event {Type} could not be appended")]
        public static partial void AppendFailed(ILogger logger, string type, Exception exception);
    }
}
