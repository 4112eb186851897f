namespace Edge.Proxy.Pipeline;

/// <summary>What happened to an approval; the audit type is <c>dev.edge.audit.approval.{kind}.v1</c>.</summary>
internal enum ApprovalEventKind
{
    Requested,
    Approved,
    Rejected,
    Consumed,
    Expired,
    Invalid,
    Mismatch,

    /// <summary>
    /// The API refused an approver's decision on an existing approval (their own request under four-eyes, a policy
    /// their roles do not grant, or one already decided); <see cref="ApprovalEvent.Refusal"/> holds the answer's code.
    /// </summary>
    Refused,
}

/// <summary>
/// One approval event. <see cref="ApprovalId"/> is null only for a token that does not even parse;
/// <see cref="Actor"/> is who caused the event (the requester on the request path, the approver in the API).
/// </summary>
internal sealed record ApprovalEvent(
    ApprovalEventKind Kind,
    string? ApprovalId,
    string? Policy,
    string Route,
    string? Tenant,
    string? RequestHash,
    string? Requester,
    string? Approver,
    string? Actor,
    string? Method,
    string? Path)
{
    /// <summary>The approval's <see cref="Edge.Proxy.Approvals.ApprovalRequest.AuditKey"/>; empty when there is no approval.</summary>
    public string AuditKey { get; init; } = "";

    /// <summary>For <see cref="ApprovalEventKind.Refused"/>: the problem code the caller got.</summary>
    public string? Refusal { get; init; }
}

/// <summary>
/// Receives approval events. Defined here, where Approvals and Auditing both see it, and implemented by Auditing, which
/// writes them to the audit trail.
/// </summary>
internal interface IApprovalEventSink
{
    /// <summary>Completes once the event is durable (or was dropped and logged); never throws.</summary>
    ValueTask RecordAsync(ApprovalEvent approvalEvent);

    /// <summary>Whether an event recorded now would be kept rather than dropped at the audit spool's cap.</summary>
    bool CanRecord => true;
}
