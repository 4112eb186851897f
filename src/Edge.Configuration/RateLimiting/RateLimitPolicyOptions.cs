namespace Edge.Configuration.RateLimiting;

/// <summary>
/// A named rate-limit policy (<c>Edge:RateLimits:{name}</c> in proxy.json). Values are validated by
/// <see cref="RateLimitSectionValidator"/> and compiled into a <see cref="RateLimitPolicy"/>.
/// </summary>
internal sealed record RateLimitPolicyOptions
{
    /// <summary><c>TokenBucket</c> (default) or <c>Gcra</c>. Both admit the same traffic; they store different state.</summary>
    public string Algorithm { get; init; } = "TokenBucket";

    /// <summary>Requests allowed per <see cref="Window"/> (the refill rate is Limit / Window); required (null: left out).</summary>
    public int? Limit { get; init; }

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Requests that may arrive at once after a quiet period (the bucket size). Defaults to <see cref="Limit"/>.</summary>
    public int? Burst { get; init; }

    /// <summary>Partition key template: <c>{tenant}</c>, <c>{principal}</c>, <c>{ip}</c>, <c>{route}</c>, <c>{header:Name}</c>, <c>{body:/json/pointer}</c>.</summary>
    public string Key { get; init; } = "{tenant}";

    /// <summary><c>Strict</c> (one Redis round trip per decision) or <c>Lease</c> (claim batches, spend locally).</summary>
    public string Mode { get; init; } = "Strict";

    /// <summary><c>Local</c>, <c>Open</c> or <c>Closed</c>: what a decision does when Redis cannot answer in time.</summary>
    public string OnRedisUnavailable { get; init; } = "Local";

    /// <summary>With <c>Local</c>: the fraction of Limit and Burst this instance admits alone (e.g. 0.5 for two instances).</summary>
    public double LocalShare { get; init; } = 1.0;

    /// <summary><c>Legacy</c> (X-RateLimit-*), <c>Draft</c> (IETF RateLimit / RateLimit-Policy), <c>Both</c> or <c>None</c>.</summary>
    public string Headers { get; init; } = "Legacy";

    /// <summary><c>EpochSeconds</c> (default) or <c>Delta</c> for X-RateLimit-Reset.</summary>
    public string ResetFormat { get; init; } = "EpochSeconds";

    /// <summary>
    /// How long Redis may stay silent after a decision's command was sent before the outage mode applies (a blackholed
    /// server). Counted from the send, not from the start of the request; never applied while Redis keeps answering.
    /// </summary>
    public TimeSpan DecisionDeadline { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Lease mode: the most tokens one instance claims at once for one key. Defaults to Burst / 10 (1 to 100).</summary>
    public int? LeaseMaxBatch { get; init; }

    /// <summary>Lease mode: how long claimed tokens may be spent before they are discarded.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Prefix of the Redis keys of this policy.</summary>
    public string KeyPrefix { get; init; } = "edge:rl:";
}
