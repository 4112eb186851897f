namespace Edge.Proxy.Approvals;

internal enum ConsumeOutcome
{
    /// <summary>The token matched the approved request and is now used up.</summary>
    Consumed,

    /// <summary>Unknown approval, wrong token, not approved yet, or already used.</summary>
    Invalid,

    Expired,

    Rejected,

    /// <summary>The token is right but the request differs; the token was not consumed.</summary>
    Mismatch,
}

internal enum DecideOutcome
{
    Decided,
    NotFound,
    Expired,
    AlreadyDecided,
}

/// <summary>
/// Where approval requests live: Redis when <c>Edge:Redis</c> is set (every instance sees every approval, and a token
/// is consumed once across all of them), in process otherwise. Every state change is one atomic operation.
/// </summary>
internal interface IApprovalStore
{
    /// <summary>Stores a new pending request; it is kept until <paramref name="retainUntil"/>.</summary>
    ValueTask CreateAsync(ApprovalRequest request, DateTimeOffset retainUntil, DateTimeOffset now);

    ValueTask<ApprovalRequest?> GetAsync(string id);

    /// <summary>The newest approval made for the request with this fingerprint, if still kept.</summary>
    ValueTask<ApprovalRequest?> FindByRequestAsync(string requestHash);

    /// <summary>The kept approvals of one tenant (null: requests without a tenant), newest first.</summary>
    ValueTask<IReadOnlyList<ApprovalRequest>> ListAsync(string? tenant);

    ValueTask<DecideOutcome> ApproveAsync(string id, string approver, string tokenHash, DateTimeOffset now, DateTimeOffset tokenExpiresAt, DateTimeOffset retainUntil);

    /// <summary>Rejects a pending request, or revokes the token of an approved one that was not used yet.</summary>
    ValueTask<DecideOutcome> RejectAsync(string id, string approver, DateTimeOffset now);

    /// <summary>
    /// Checks the token against the approved request and consumes it, atomically; a mismatch consumes nothing. Returns the
    /// approval as that same operation left it (null when unknown): a second read after a consume could fail (Redis failing
    /// over) with the token already used up.
    /// </summary>
    ValueTask<(ConsumeOutcome Outcome, ApprovalRequest? Approval)> ConsumeAsync(string id, string tokenHash, string requestHash, DateTimeOffset now);
}

/// <summary>The shared store (Redis) cannot answer; the caller answers 503 rather than decide without it.</summary>
internal sealed class ApprovalStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The in-process store holds its capacity of approvals that still decide a request (pending, or approved with an
/// unused token): the caller answers 503 rather than evict one of them to make room.
/// </summary>
internal sealed class ApprovalStoreFullException(int capacity) : Exception($"The approval store holds {capacity} live approvals.")
{
    public int Capacity { get; } = capacity;
}
