using Edge.Proxy.Authorization;
using Edge.Proxy.RateLimiting;
using Edge.Proxy.Tenancy;
using Edge.Proxy.Webhooks;

namespace Edge.Proxy.Configuration;

/// <summary>
/// The <c>Edge</c> section of proxy.json: named policies that route steps refer to.
/// </summary>
public sealed record EdgeSection
{
    public static EdgeSection Empty { get; } = new();

    public TenancyOptions Tenancy { get; init; } = new();

    public IReadOnlyDictionary<string, RateLimitPolicyOptions> RateLimits { get; init; } = new Dictionary<string, RateLimitPolicyOptions>();

    public IReadOnlyDictionary<string, WebhookPolicyOptions> Webhooks { get; init; } = new Dictionary<string, WebhookPolicyOptions>();

    public IReadOnlyDictionary<string, AuthenticationPolicyOptions> Authentication { get; init; } = new Dictionary<string, AuthenticationPolicyOptions>();

    /// <summary>Role name to the permissions it grants; <c>*</c> grants every permission.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Roles { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}
