using System.Globalization;
using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Bans and lifted bans become audit records in the spool, or in the local NDJSON file without a writer
/// (<paramref name="appender"/> is null only when neither is configured; the threat monitor's log line is then the only
/// trace). A ban never waits for the append.
/// </summary>
internal sealed partial class ThreatAuditEventSink(IAuditEventAppender? appender, EdgeHostOptions host, TimeProvider time, ILogger<ThreatAuditEventSink> logger)
    : IThreatEventSink
{
    public void Banned(string key, string? rule, DateTimeOffset until, string reason, string by) =>
        Record(AuditEventTypes.ThreatBanned, "banned", rule is null ? "manual" : "threshold", new Dictionary<string, string>
        {
            ["key"] = key,
            ["rule"] = rule ?? "",
            ["until"] = until.ToString("O", CultureInfo.InvariantCulture),
            ["reason"] = reason,
            ["by"] = by,
        });

    public void Unbanned(string key, string by) =>
        Record(AuditEventTypes.ThreatUnbanned, "unbanned", "manual", new Dictionary<string, string> { ["key"] = key, ["by"] = by });

    private void Record(string type, string decision, string reason, Dictionary<string, string> attributes)
    {
        if (appender is null)
        {
            return;
        }

        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Type = type,
            Time = time.GetUtcNow(),
            Instance = host.InstanceId,
            Decision = decision,
            Step = IEdgeThreatGate.StepName,
            Reason = reason,
            Attributes = attributes,
        };
        _ = AppendAsync(appender, AuditRecordSerializer.Serialize(record), type);
    }

    private async Task AppendAsync(IAuditEventAppender target, byte[] record, string type)
    {
        try
        {
            if (!await target.TryAppendAsync(record).ConfigureAwait(false))
            {
                target.RecordDropped();
                Log.Dropped(logger, type);
            }
        }
        catch (Exception ex)
        {
            Log.AppendFailed(logger, type, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1513, LogLevel.Error, "Audit record for threat event {Type} dropped: the audit spool or local queue is full")]
        public static partial void Dropped(ILogger logger, string type);

        [LoggerMessage(1514, LogLevel.Error, "Audit record for threat event {Type} could not be appended")]
        public static partial void AppendFailed(ILogger logger, string type, Exception exception);
    }
}
