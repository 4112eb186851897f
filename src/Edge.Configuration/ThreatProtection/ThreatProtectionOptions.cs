namespace Edge.Configuration.ThreatProtection;

/// <summary><c>Edge:ThreatProtection</c>.</summary>
internal sealed record ThreatProtectionOptions
{
    /// <summary>The default <see cref="MaxBans"/>: about 40 MB of edge memory per instance (docs/threat-protection.md).</summary>
    public const int DefaultMaxBans = 100_000;

    /// <summary>The largest <see cref="MaxBans"/>: a table past it costs gigabytes of memory on every instance and in Redis.</summary>
    public const int MaxMaxBans = 10_000_000;

    public IReadOnlyDictionary<string, ThreatRuleOptions> Rules { get; init; } = new Dictionary<string, ThreatRuleOptions>();

    /// <summary>
    /// The most running bans a table holds (this instance's, and the shared one in Redis); beyond it a new ban evicts
    /// the running ban the cap values least (docs/threat-protection.md, "The ban table's cap").
    /// </summary>
    public int MaxBans { get; init; } = DefaultMaxBans;
}
