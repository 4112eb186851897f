using System.Globalization;
using Edge.Audit.Records;
using Edge.Audit.Spool;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Bans and lifted bans become audit records in the spool (<paramref name="spool"/> is null without an audit writer; the
/// threat monitor's log line is then the only trace). A ban never waits for the spool.
/// </summary>
internal sealed partial class ThreatAuditEventSink(AuditSpool? spool, EdgeHostOptions host, TimeProvider time, ILogger<ThreatAuditEventSink> logger)
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
        if (spool is null)
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
        _ = AppendAsync(spool, AuditRecordSerializer.Serialize(record), type);
    }

    private async Task AppendAsync(AuditSpool target, byte[] record, string type)
    {
        try
        {
            if (!await target.TryAppendAsync(record).ConfigureAwait(false))
            {
                target.Metrics.AddDropped();
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
        [LoggerMessage(1513, LogLevel.Error, "Audit record for threat event {Type} dropped: the spool is at its cap")]
        public static partial void Dropped(ILogger logger, string type);

        [LoggerMessage(1514, LogLevel.Error, "Audit record for threat event {Type} could not be written to the spool")]
        public static partial void AppendFailed(ILogger logger, string type, Exception exception);
    }
}
