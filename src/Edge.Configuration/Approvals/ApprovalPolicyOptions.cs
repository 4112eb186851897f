namespace Edge.Configuration.Approvals;

/// <summary>
/// A named approval policy (<c>Edge:Approvals:{name}</c> in proxy.json): who may approve a request on a route with
/// <c>{ "EdgeApproval": "{name}" }</c>, and how long a request waits and a token lives.
/// </summary>
public sealed record ApprovalPolicyOptions
{
    /// <summary>The permission (from <c>Edge:Roles</c>) an approver's roles must grant.</summary>
    public string ApproverPermission { get; init; } = "";

    /// <summary>The <c>Edge:Authentication</c> policies approvers sign in with, comma-separated as in <c>EdgeAuthenticate</c>.</summary>
    public string Authentication { get; init; } = "";

    /// <summary>How long a request waits for approval, and how long an approval token is valid. Default 15 minutes.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The request header the retry carries the approval token in.</summary>
    public string Header { get; init; } = "X-Approval-Token";

    /// <summary>
    /// Request headers whose values the approval binds besides method, path, query, body and content headers: a retry
    /// with other values (or without one the request had) is another request. For backends that take a parameter from a
    /// header (<c>X-Account-Id</c>, <c>Idempotency-Key</c>). Bound, not shown to approvers, like the body.
    /// </summary>
    public IReadOnlyList<string> BindHeaders { get; init; } = [];

    /// <summary>The approver must not be the requester (default true).</summary>
    public bool FourEyes { get; init; } = true;

    /// <summary>Where each new approval request is POSTed, signed with the Standard Webhooks scheme; optional.</summary>
    public ApprovalNotifyOptions? Notify { get; init; }
}

/// <summary><c>Edge:Approvals:{name}:Notify</c>: a chat or ticket integration told about each new approval request.</summary>
public sealed record ApprovalNotifyOptions
{
    /// <summary>An absolute <c>https</c> (or <c>http</c>) URL.</summary>
    public string Url { get; init; } = "";

    /// <summary>Secret reference (<c>env:</c>/<c>file:</c>) of a Standard Webhooks <c>whsec_</c> signing secret.</summary>
    public string Secret { get; init; } = "";
}
