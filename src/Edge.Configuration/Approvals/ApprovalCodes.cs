namespace Edge.Configuration.Approvals;

/// <summary>The stable problem codes of approval-gated routes and the approvals API.</summary>
public static class ApprovalCodes
{
    /// <summary>428: the request needs a human approval; the answer names the approval id.</summary>
    public const string Required = "approval_required";

    /// <summary>403: the token is unknown, malformed or already used.</summary>
    public const string Invalid = "approval_invalid";

    /// <summary>403: the token (or the request waiting for approval) is past its TTL.</summary>
    public const string Expired = "approval_expired";

    /// <summary>403: an approver rejected the request.</summary>
    public const string Rejected = "approval_rejected";

    /// <summary>403: the retry differs from the approved request; the token stays valid for the approved one.</summary>
    public const string Mismatch = "approval_mismatch";

    /// <summary>403: under FourEyes the requester cannot approve their own request.</summary>
    public const string Self = "approval_self";

    /// <summary>403: the approver's roles do not grant the policy's <c>ApproverPermission</c>.</summary>
    public const string MissingPermission = "missing_permission";

    /// <summary>404: no such approval for the caller's tenant.</summary>
    public const string NotFound = "approval_not_found";

    /// <summary>409: the approval was already approved, rejected or used.</summary>
    public const string AlreadyDecided = "approval_decided";

    /// <summary>
    /// 429: more refused decisions by this caller within a minute than the edge records one by one; nothing was decided.
    /// </summary>
    public const string RateLimited = "approval_rate_limited";

    /// <summary>503: the shared approval store (Redis) cannot be reached.</summary>
    public const string StoreUnavailable = "approval_store_unavailable";

    /// <summary>503: the in-process store holds its capacity of live approvals; none is evicted to make room.</summary>
    public const string StoreFull = "approval_store_full";
}
