using System.Globalization;
using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Bans and lifted bans become audit records in the spool, or in the local NDJSON file without a writer
/// (see <see cref="SecurityEventWriter"/>; when neither is configured the threat monitor's log line is the only
/// trace). A ban never waits for the append.
/// </summary>
internal sealed class ThreatAuditEventSink(SecurityEventWriter events)
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
        if (!events.IsConfigured)
        {
            return;
        }

        events.Append(events.NewRecord(type, decision, IEdgeThreatGate.StepName, reason, attributes));
    }
}
