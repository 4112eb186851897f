namespace Edge.Configuration.RateLimiting;

internal enum RateLimitResetFormat
{
    /// <summary>Unix time in seconds at which the bucket is full again.</summary>
    EpochSeconds,

    /// <summary>Seconds from now until the bucket is full again.</summary>
    Delta,
}
