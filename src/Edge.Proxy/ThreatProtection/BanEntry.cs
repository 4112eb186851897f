using Edge.Proxy.Pipeline;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// One active ban. <see cref="Rule"/> is the rule whose threshold was crossed, or null for a ban added on the management
/// port; <see cref="Reason"/> is the operator's text or the counted event.
/// </summary>
internal sealed record BanEntry(string Key, DateTimeOffset Until, string? Rule, string Reason)
{
    /// <summary>Whose ban it is, kept so that its lift is audited under the same subject; null when unknown (e.g. stored by an older edge).</summary>
    public BanSubject? Subject { get; init; }

    public bool IsActive(DateTimeOffset now) => Until > now;

    /// <summary>A manual ban of a network (<c>203.0.113.0/24</c>): no rule renders a '/', so any other key is not one.</summary>
    public static bool TryParseNetwork(string key, out System.Net.IPNetwork network)
    {
        network = default;
        return key.Contains('/', StringComparison.Ordinal) && System.Net.IPNetwork.TryParse(key, out network);
    }

    /// <summary>Whole seconds until the ban ends, at least 1 (the value of <c>Retry-After</c>).</summary>
    public long RemainingSeconds(DateTimeOffset now) => Math.Max(1, (long)Math.Ceiling((Until - now).TotalSeconds));
}
