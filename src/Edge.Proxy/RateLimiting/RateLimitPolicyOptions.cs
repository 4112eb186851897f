namespace Edge.Proxy.RateLimiting;

/// <summary>A named rate-limit policy (<c>Edge:RateLimits:{name}</c> in proxy.json).</summary>
public sealed record RateLimitPolicyOptions
{
    public string Algorithm { get; init; } = "TokenBucket";

    public int Limit { get; init; }

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    public int? Burst { get; init; }

    public string Key { get; init; } = "{tenant}";

    public string Mode { get; init; } = "Strict";

    public string OnRedisUnavailable { get; init; } = "Local";

    public string Headers { get; init; } = "Legacy";

    public string ResetFormat { get; init; } = "EpochSeconds";
}
