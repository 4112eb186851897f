namespace Edge.Proxy.Webhooks;

/// <summary>A named webhook verification policy (<c>Edge:Webhooks:{name}</c> in proxy.json).</summary>
public sealed record WebhookPolicyOptions
{
    public string Scheme { get; init; } = "";

    /// <summary>Secret references (<c>env:NAME</c> or <c>file:/path</c>); several allow rotation by overlap.</summary>
    public IReadOnlyList<string> Secrets { get; init; } = [];

    public long MaxBodyBytes { get; init; } = 1024 * 1024;
}
