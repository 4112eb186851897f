namespace Edge.Proxy.Approvals;

/// <summary>A validated <c>Edge:Approvals</c> entry with its Notify key resolved, built when a config is applied.</summary>
internal sealed record ApprovalPolicy(string Name, ApprovalPolicyOptions Options, string[] AuthenticationPolicies, Uri? NotifyUrl, byte[]? NotifyKey)
{
    public static ApprovalPolicy Create(string name, ApprovalPolicyOptions options)
    {
        Uri? url = null;
        byte[]? key = null;
        if (options.Notify is { } notify)
        {
            url = ApprovalsSectionValidator.ResolveNotifyUrl(notify.Url, out var urlError)
                ?? throw new InvalidOperationException($"Edge:Approvals:{name}:Notify:Url: {urlError}");
            key = ApprovalsSectionValidator.ResolveNotifyKey(notify.Secret, out var error)
                ?? throw new InvalidOperationException($"Edge:Approvals:{name}:Notify:Secret: {error}");
        }

        return new ApprovalPolicy(name, options, ApprovalsSectionValidator.AuthenticationPolicies(options), url, key);
    }
}
