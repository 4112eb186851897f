using System.Security.Cryptography;
using System.Text;
using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Writes approval events to the audit trail: the spool with a writer, the local NDJSON file without one
/// (see <see cref="SecurityEventWriter"/>; when neither is configured the event is logged). The actor (requester or approver) is the record's subject, so erasure covers it like any
/// principal; the attributes name the approval and its request hash, so the trail shows who approved what by approval
/// id (the requested record's subject is the requester, the approved one's the approver). No principal goes into the
/// attributes: the writer encrypts only the subject, so a name there stayed readable in every later record, export and
/// store file after its owner was erased. With a writer each append completes once durable, so an approver never holds a
/// token the trail does not show.
/// </summary>
internal sealed partial class ApprovalAuditEventSink(
    SecurityEventWriter events,
    ILogger<ApprovalAuditEventSink> logger)
    : IApprovalEventSink
{
    public static string TypeOf(ApprovalEventKind kind) => kind switch
    {
        ApprovalEventKind.Requested => AuditEventTypes.ApprovalRequested,
        ApprovalEventKind.Approved => AuditEventTypes.ApprovalApproved,
        ApprovalEventKind.Rejected => AuditEventTypes.ApprovalRejected,
        ApprovalEventKind.Consumed => AuditEventTypes.ApprovalConsumed,
        ApprovalEventKind.Expired => AuditEventTypes.ApprovalExpired,
        ApprovalEventKind.Invalid => AuditEventTypes.ApprovalInvalid,
        ApprovalEventKind.Refused => AuditEventTypes.ApprovalRefused,
        _ => AuditEventTypes.ApprovalMismatch,
    };

    public bool CanRecord => events.HasRoom;

    public async ValueTask RecordAsync(ApprovalEvent approvalEvent)
    {
        var type = TypeOf(approvalEvent.Kind);
        var decision = approvalEvent.Kind.ToString().ToLowerInvariant();
        if (!events.IsConfigured)
        {
            Log.Event(logger, type, approvalEvent.ApprovalId ?? "-", approvalEvent.Route);
            return;
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["approvalId"] = approvalEvent.ApprovalId ?? "",
            ["policy"] = approvalEvent.Policy ?? "",
            ["requestHash"] = AuditRequestHash(approvalEvent),
        };
        var reason = approvalEvent.Refusal ?? "approval_" + decision;
        var record = events.NewRecord(type, decision, ApprovalStepValidator.StepName, reason, attributes) with
        {
            Tenant = approvalEvent.Tenant,
            Subject = new AuditSubject { Principal = approvalEvent.Actor },
            Route = approvalEvent.Route,
            Method = approvalEvent.Method,
            Path = approvalEvent.Path,
        };
        await events.AppendAsync(record, admitted: IsCheckedDecision(approvalEvent.Kind));
    }

    /// <summary>
    /// The events the approval step and the approvals API check <see cref="CanRecord"/> for before they happen (an
    /// approval opened, approved, rejected or consumed): kept even if the spool reached its cap between that check and
    /// this record, or an approver could hold a token the trail does not show. Attempts (invalid, mismatched, expired,
    /// refused) are not checked first and stay under the cap.
    /// </summary>
    private static bool IsCheckedDecision(ApprovalEventKind kind) =>
        kind is ApprovalEventKind.Requested or ApprovalEventKind.Approved or ApprovalEventKind.Rejected or ApprovalEventKind.Consumed;

    /// <summary>
    /// HMAC-SHA256 of the request hash under the approval's secret audit key: equal across one approval's records (a
    /// mismatch differs), but not the bare hash, which covers the requester, the query string and the body digest and
    /// so let anyone holding the log confirm a guessed requester (also after their erasure) or query string.
    /// </summary>
    internal static string AuditRequestHash(ApprovalEvent approvalEvent)
    {
        if (string.IsNullOrEmpty(approvalEvent.RequestHash))
        {
            return "";
        }

        Span<byte> key = stackalloc byte[32];
        if (!Convert.TryFromBase64String(approvalEvent.AuditKey, key, out var written) || written != key.Length)
        {
            RandomNumberGenerator.Fill(key);
        }

        try
        {
            return Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(approvalEvent.RequestHash)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1520, LogLevel.Information, "Approval event {Type} for approval {ApprovalId} on route {Route} (no audit writer configured)")]
        public static partial void Event(ILogger logger, string type, string approvalId, string route);
    }
}
