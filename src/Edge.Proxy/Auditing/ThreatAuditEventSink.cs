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
/// <remarks>
/// The ban key is personal (<c>203.0.113.7</c>, <c>acme:alice</c>), and so is an operator's reason for a manual ban:
/// with a subject they go into <c>data.subject</c> (<c>banKey</c>, <c>banReason</c>) beside its principal and client
/// address, which the writer seals under that subject's data key, so an erasure of the principal or address makes them
/// unreadable like its decision records. In the attributes they stayed readable until retention. Only a ban that names
/// no one (a manual ban of a key with no address and no principal given) keeps them in the attributes.
/// </remarks>
internal sealed class ThreatAuditEventSink(SecurityEventWriter events)
    : IThreatEventSink
{
    public const string BanKeyMember = "banKey";
    public const string BanReasonMember = "banReason";

    public void Banned(string key, string? rule, DateTimeOffset until, string reason, string by, BanSubject? subject)
    {
        var attributes = new Dictionary<string, string>
        {
            ["rule"] = rule ?? "",
            ["until"] = until.ToString("O", CultureInfo.InvariantCulture),
            ["by"] = by,
        };
        List<KeyValuePair<string, string>> details = [new(BanKeyMember, key)];
        // A rule ban's reason is the counted event's name; a manual ban's is what the operator typed.
        if (rule is not null)
        {
            attributes["reason"] = reason;
        }
        else
        {
            details.Add(new(BanReasonMember, reason));
        }

        Record(AuditEventTypes.ThreatBanned, "banned", rule is null ? "manual" : "threshold", attributes, details, subject);
    }

    public void Unbanned(string key, string by, BanSubject? subject) =>
        Record(AuditEventTypes.ThreatUnbanned, "unbanned", by == IThreatEventSink.EvictedBy ? "evicted" : "manual", new Dictionary<string, string> { ["by"] = by }, [new(BanKeyMember, key)], subject);

    private void Record(
        string type, string decision, string reason, Dictionary<string, string> attributes, List<KeyValuePair<string, string>> details, BanSubject? subject)
    {
        if (!events.IsConfigured)
        {
            return;
        }

        if (subject is null || subject.IsEmpty)
        {
            // Nothing to seal them under: as before, in the attributes.
            foreach (var (name, value) in details)
            {
                attributes[name == BanKeyMember ? "key" : "reason"] = value;
            }

            events.Append(events.NewRecord(type, decision, IEdgeThreatGate.StepName, reason, attributes));
            return;
        }

        // A manual ban stored by an edge before POST /edge/bans checked its tenant may name one that is no tenant id. The
        // writer refuses such a record, and shipping would stop at it for good: it keeps the name as an attribute instead.
        var tenant = subject.Tenant;
        if (tenant is not null && !TenantId.IsValid(tenant))
        {
            attributes["banTenant"] = tenant;
            tenant = null;
        }

        events.Append(events.NewRecord(type, decision, IEdgeThreatGate.StepName, reason, attributes) with
        {
            Tenant = tenant,
            Subject = new AuditSubject { Principal = subject.Principal, ClientIp = subject.ClientIp, Details = details },
        });
    }
}
