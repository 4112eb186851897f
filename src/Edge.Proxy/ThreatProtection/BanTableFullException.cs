namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// A manual ban found the ban table at its cap with nothing it may evict (every ban in it is manual); the management API
/// answers 507 <c>ban_table_full</c>.
/// </summary>
internal sealed class BanTableFullException(int maxBans) : Exception($"The ban table holds {maxBans} manual bans, its cap")
{
    public int MaxBans { get; } = maxBans;
}
