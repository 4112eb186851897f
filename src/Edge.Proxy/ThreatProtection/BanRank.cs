namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// What the ban table's cap (<c>Edge:ThreatProtection:MaxBans</c>) keeps first: a new ban beyond the cap evicts the
/// running ban of the lowest rank, the one ending soonest among equals, and never one of a higher rank than its own.
/// </summary>
internal enum BanRank
{
    /// <summary>A rule's ban whose key holds a part the client writes itself (<c>{header:…}</c>, <c>{tenant}</c>): one client can make any number.</summary>
    ClientChosen = 0,

    /// <summary>
    /// A rule's ban whose key the client cannot choose freely (<c>{ip}</c>, <c>{principal}</c>, <c>{route}</c>, literals):
    /// made-up header values cannot evict it.
    /// </summary>
    Connection = 1,

    /// <summary>A ban made on the management port: never evicted; a new one beyond a table full of them is refused.</summary>
    Manual = 2,
}
