using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Approvals;

internal enum ApprovalStatus
{
    Pending,
    Approved,
    Rejected,
    Consumed,
}

/// <summary>
/// One request waiting for (or given) a human approval: what was asked, by whom, for which tenant, and the decision.
/// The token itself is never stored, only its SHA-256.
/// </summary>
internal sealed record ApprovalRequest
{
    public required string Id { get; init; }

    public required string Policy { get; init; }

    public required string Route { get; init; }

    public string? Tenant { get; init; }

    public required string Requester { get; init; }

    public required string Method { get; init; }

    public required string Path { get; init; }

    /// <summary>The query string with its leading <c>?</c>, or empty.</summary>
    public required string Query { get; init; }

    /// <summary>Lower-case hex SHA-256 of the body bytes.</summary>
    public required string BodySha256 { get; init; }

    /// <summary>The fingerprint a retry must match (<see cref="ApprovalFingerprint"/>).</summary>
    public required string RequestHash { get; init; }

    /// <summary>
    /// Base64 of 32 random bytes keying the request hash in this approval's audit records (see
    /// <see cref="Edge.Proxy.Auditing.ApprovalAuditEventSink"/>); never in a record itself. Empty for an approval stored
    /// before this key existed: its records then get a fresh key each.
    /// </summary>
    public string AuditKey { get; init; } = "";

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Until when the request may be approved.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    public ApprovalStatus Status { get; init; }

    /// <summary>Who approved or rejected it.</summary>
    public string? Approver { get; init; }

    public DateTimeOffset? DecidedAt { get; init; }

    public string? TokenHash { get; init; }

    public DateTimeOffset? TokenExpiresAt { get; init; }

    /// <summary>Where an approver finds it: relative, on the proxy listener.</summary>
    public string Url => ApprovalFingerprint.UrlOf(Id);

    /// <summary>The event <paramref name="kind"/> of this approval, caused by <paramref name="actor"/>.</summary>
    public ApprovalEvent ToEvent(ApprovalEventKind kind, string? actor) =>
        new(kind, Id, Policy, Route, Tenant, RequestHash, Requester, Approver, actor, Method, Path) { AuditKey = AuditKey };
}
