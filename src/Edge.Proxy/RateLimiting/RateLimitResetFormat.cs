namespace Edge.Proxy.RateLimiting;

public enum RateLimitResetFormat
{
    /// <summary>Unix time in seconds at which the bucket is full again.</summary>
    EpochSeconds,

    /// <summary>Seconds from now until the bucket is full again.</summary>
    Delta,
}
