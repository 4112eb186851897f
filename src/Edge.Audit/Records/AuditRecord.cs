namespace Edge.Audit.Records;

/// <summary>
/// One audited decision or security event. Serialised once, at the edge, into the canonical leaf bytes
/// (<see cref="AuditRecordSerializer"/>); the writer stores exactly those bytes as the Merkle leaf.
/// </summary>
public sealed record AuditRecord
{
    /// <summary>Unique record id; for a request it is the request id returned to the client.</summary>
    public required string Id { get; init; }

    /// <summary>CloudEvents <c>type</c>, e.g. <see cref="AuditEventTypes.Request"/>.</summary>
    public string Type { get; init; } = AuditEventTypes.Request;

    public required DateTimeOffset Time { get; init; }

    /// <summary>The edge instance name; becomes the CloudEvents <c>source</c> <c>edge://{instance}</c>.</summary>
    public required string Instance { get; init; }

    public string? Tenant { get; init; }

    /// <summary>Personal fields, kept apart so they can be encrypted per subject (crypto-shredding).</summary>
    public AuditSubject Subject { get; init; } = AuditSubject.Empty;

    public string? AuthMethod { get; init; }

    public string? Route { get; init; }

    public string? Destination { get; init; }

    public string? Method { get; init; }

    /// <summary>The scheme of the client's connection to the edge, <c>http</c> or <c>https</c> (where the edge terminated TLS).</summary>
    public string? Scheme { get; init; }

    /// <summary>The request path without the query string.</summary>
    public string? Path { get; init; }

    public int? Status { get; init; }

    /// <summary><c>allow</c>, <c>deny</c> or, for security events, <c>applied</c>/<c>refused</c>/<c>rotated</c>.</summary>
    public required string Decision { get; init; }

    /// <summary>The step that decided (e.g. <c>EdgeRateLimit</c>).</summary>
    public string? Step { get; init; }

    /// <summary>A stable reason code (e.g. <c>rate_limited</c>).</summary>
    public string? Reason { get; init; }

    /// <summary>Rate-limit outcome, e.g. <c>allowed</c>, <c>limited</c>, <c>local_fallback</c>.</summary>
    public string? RateLimit { get; init; }

    /// <summary>Why the rate limiter's outage mode answered (e.g. <c>no_answer</c>, <c>disconnected</c>); null when Redis decided.</summary>
    public string? RateLimitFallback { get; init; }

    public string? SignatureScheme { get; init; }

    public string? SignatureResult { get; init; }

    public long? BytesIn { get; init; }

    public long? BytesOut { get; init; }

    public double? LatencyMs { get; init; }

    public string? TraceId { get; init; }

    public BodyHash? BodyHash { get; init; }

    /// <summary>Event-specific details of security events (e.g. config revision and content hash); never secrets.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }
}

/// <summary>
/// Every <c>data.decision</c> a record can carry: requests, config and key events, bans, approvals and the writer's own
/// records. The read API refuses a <c>decision=</c> filter outside this set: an unknown value matched nothing, an empty
/// answer an auditor reads as "no such records".
/// </summary>
public static class AuditDecisions
{
    public static readonly IReadOnlyList<string> All =
    [
        "allow", "deny", "incomplete", "closed",
        "applied", "refused", "rotated",
        "banned", "unbanned",
        "requested", "approved", "rejected", "consumed", "expired", "invalid", "mismatch",
        "erased", "pruned",
    ];

    public static bool IsKnown(string decision) => All.Contains(decision, StringComparer.Ordinal);

    /// <summary>
    /// The decisions only the writer's own records carry (<see cref="AuditEventTypes.SubjectErased"/>, and a retention
    /// batch's <see cref="AuditEventTypes.RetentionApplied"/>): compliance reviews read <c>decision=erased</c> as the list of
    /// erasures and <c>decision=pruned</c> as the list of prunes, so an edge sending either is refused, like a writer-only type.
    /// </summary>
    public static bool IsWriterOnly(string? decision) => decision is "erased" or "pruned";
}

public static class AuditEventTypes
{
    public const string Request = "dev.edge.audit.request.v1";
    public const string ConfigApplied = "dev.edge.audit.config.applied.v1";
    public const string ConfigRefused = "dev.edge.audit.config.refused.v1";
    public const string KeyRotated = "dev.edge.audit.key.rotated.v1";

    /// <summary>A ban began: a rule's threshold was crossed, or an operator added one on the management port.</summary>
    public const string ThreatBanned = "dev.edge.audit.threat.banned.v1";

    /// <summary>An operator lifted a ban on the management port.</summary>
    public const string ThreatUnbanned = "dev.edge.audit.threat.unbanned.v1";
    /// <summary>
    /// The backend broke off a response after its status and headers had gone to the client: the request's record (written
    /// when the response started) says the status the client got; this one, naming it in <c>requestId</c>, says the body did not all arrive.
    /// </summary>
    public const string ResponseIncomplete = "dev.edge.audit.response.incomplete.v1";

    /// <summary>
    /// An upgraded connection (a WebSocket) ended: the request's record (written at the switch) says 101, or 200 on an
    /// HTTP/2 extended CONNECT; this one, naming it in <c>requestId</c>, says the bytes relayed each way, how long the
    /// tunnel lasted and how it ended.
    /// </summary>
    public const string TunnelClosed = "dev.edge.audit.tunnel.closed.v1";

    /// <summary>
    /// The spool's start found records of this edge missing (a gap between segments: one moved out or cut with the edge
    /// stopped, a restart while shipping waited at such a gap, a power cut) and ships past them: the trail says which
    /// sequences it will never hold (<c>expectedSequence</c> up to <c>foundSequence</c>, <c>missing</c>, <c>segment</c>).
    /// </summary>
    public const string SpoolRecordsLost = "dev.edge.audit.spool.lost.v1";

    /// <summary>
    /// A writer refused one of this edge's records as a record (<c>record_too_large</c>, <c>invalid_record</c>), and the
    /// edge set it aside in its spool's quarantine folder to ship the records after it: the writer's log says which record
    /// it does not hold (<c>recordId</c>, <c>recordType</c>, <c>sequence</c>, <c>writer</c>, <c>file</c>; reason the code).
    /// </summary>
    public const string RecordQuarantined = "dev.edge.audit.record.quarantined.v1";

    /// <summary>Approval events: <c>requested</c>, <c>approved</c>, <c>rejected</c>, <c>consumed</c>, <c>expired</c>, <c>invalid</c>, <c>mismatch</c>, <c>refused</c>.</summary>
    public const string ApprovalRequested = "dev.edge.audit.approval.requested.v1";
    public const string ApprovalApproved = "dev.edge.audit.approval.approved.v1";
    public const string ApprovalRejected = "dev.edge.audit.approval.rejected.v1";
    public const string ApprovalConsumed = "dev.edge.audit.approval.consumed.v1";
    public const string ApprovalExpired = "dev.edge.audit.approval.expired.v1";
    public const string ApprovalInvalid = "dev.edge.audit.approval.invalid.v1";
    public const string ApprovalMismatch = "dev.edge.audit.approval.mismatch.v1";
    public const string ApprovalRefused = "dev.edge.audit.approval.refused.v1";

    /// <summary>Written by the audit writer after an erasure; names neither the subject nor its personal fields.</summary>
    public const string SubjectErased = "dev.edge.audit.subject.erased.v1";

    /// <summary>
    /// Written by the audit writer when it refuses an erasure to a signed-in caller (<c>missing_permission</c>,
    /// <c>tenant_forbidden</c>, <c>erasure_self</c>); the subject is the caller, never the principal it named.
    /// </summary>
    public const string ErasureRefused = "dev.edge.audit.erasure.refused.v1";

    /// <summary>Written by the audit writer after each retention run.</summary>
    public const string RetentionApplied = "dev.edge.audit.retention.applied.v1";

    /// <summary>Types only the writer may append; an edge sending one is refused.</summary>
    public static bool IsWriterOnly(string type) => type is SubjectErased or ErasureRefused or RetentionApplied;
}
