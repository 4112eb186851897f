namespace Edge.Configuration.ThreatProtection;

/// <summary><c>Edge:ThreatProtection</c>.</summary>
internal sealed record ThreatProtectionOptions
{
    public IReadOnlyDictionary<string, ThreatRuleOptions> Rules { get; init; } = new Dictionary<string, ThreatRuleOptions>();
}
