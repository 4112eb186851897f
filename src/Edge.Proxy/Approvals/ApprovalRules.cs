namespace Edge.Proxy.Approvals;

/// <summary>
/// The order of the checks a retry's token goes through, shared by the in-process store and (as Lua) the Redis
/// script: a wrong or used token is invalid before anything else is told, and a mismatch is the last check so that it
/// never consumes the token.
/// </summary>
internal static class ApprovalRules
{
    public static ConsumeOutcome Consume(ApprovalRequest request, string tokenHash, string requestHash, DateTimeOffset now)
    {
        if (!ApprovalToken.HashEquals(request.TokenHash, tokenHash) || request.Status is ApprovalStatus.Pending or ApprovalStatus.Consumed)
        {
            return ConsumeOutcome.Invalid;
        }

        if (request.Status == ApprovalStatus.Rejected)
        {
            return ConsumeOutcome.Rejected;
        }

        if (request.TokenExpiresAt is not { } expires || expires <= now)
        {
            return ConsumeOutcome.Expired;
        }

        return string.Equals(request.RequestHash, requestHash, StringComparison.Ordinal) ? ConsumeOutcome.Consumed : ConsumeOutcome.Mismatch;
    }
}
