using Edge.Proxy.Approvals;

namespace Edge.Proxy.Tests.Approvals;

/// <summary>A pending payments approval by alice in tenant acme, with its own id, as the store tests create them.</summary>
internal static class TestApprovalRequests
{
    public static ApprovalRequest Create(DateTimeOffset now, TimeSpan ttl)
    {
        var id = ApprovalToken.NewId();
        var body = ApprovalFingerprint.BodySha256("{}"u8);
        return new ApprovalRequest
        {
            Id = id,
            Policy = "payments",
            Route = "payments",
            Tenant = "acme",
            Requester = "alice",
            Method = "POST",
            Path = "/payments/" + id,
            Query = "",
            BodySha256 = body,
            RequestHash = ApprovalFingerprint.Compute("payments", "payments", "POST", "/payments/" + id, "", "acme", "alice", body),
            CreatedAt = now,
            ExpiresAt = now + ttl,
        };
    }
}
