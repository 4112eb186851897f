using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Writes approval events to the audit trail: the spool with a writer, the local NDJSON file without one
/// (<paramref name="appender"/> is null only when neither is configured; the event is then logged). The actor (requester or approver) is the record's subject, so erasure covers it like any
/// principal; the attributes name the approval, its request hash, requester and approver, so the trail shows who
/// approved what. With a writer each append completes once durable, so an approver never holds a token the trail does not show.
/// </summary>
internal sealed partial class ApprovalAuditEventSink(
    IAuditEventAppender? appender,
    EdgeHostOptions host,
    TimeProvider time,
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
        _ => AuditEventTypes.ApprovalMismatch,
    };

    public async ValueTask RecordAsync(ApprovalEvent approvalEvent)
    {
        var type = TypeOf(approvalEvent.Kind);
        var decision = approvalEvent.Kind.ToString().ToLowerInvariant();
        if (appender is null)
        {
            Log.Event(logger, type, approvalEvent.ApprovalId ?? "-", approvalEvent.Route);
            return;
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["approvalId"] = approvalEvent.ApprovalId ?? "",
            ["policy"] = approvalEvent.Policy ?? "",
            ["requestHash"] = approvalEvent.RequestHash ?? "",
            ["requester"] = approvalEvent.Requester ?? "",
            ["approver"] = approvalEvent.Approver ?? "",
        };
        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Type = type,
            Time = time.GetUtcNow(),
            Instance = host.InstanceId,
            Tenant = approvalEvent.Tenant,
            Subject = new AuditSubject { Principal = approvalEvent.Actor },
            Route = approvalEvent.Route,
            Method = approvalEvent.Method,
            Path = approvalEvent.Path,
            Decision = decision,
            Step = ApprovalStepValidator.StepName,
            Reason = "approval_" + decision,
            Attributes = attributes,
        };
        try
        {
            if (!await appender.TryAppendAsync(AuditRecordSerializer.Serialize(record)))
            {
                appender.RecordDropped();
                Log.Dropped(logger, type);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.AppendFailed(logger, type, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1520, LogLevel.Information, "Approval event {Type} for approval {ApprovalId} on route {Route} (no audit writer configured)")]
        public static partial void Event(ILogger logger, string type, string approvalId, string route);

        [LoggerMessage(1521, LogLevel.Error, "Audit record for approval event {Type} dropped: the audit spool or local queue is full")]
        public static partial void Dropped(ILogger logger, string type);

        [LoggerMessage(1522, LogLevel.Error, "Audit record for approval event {Type} could not be appended")]
        public static partial void AppendFailed(ILogger logger, string type, Exception exception);
    }
}
