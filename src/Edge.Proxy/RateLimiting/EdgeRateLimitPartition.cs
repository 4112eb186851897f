namespace Edge.Proxy.RateLimiting;

/// <summary>
/// ASP.NET Core partition key: the limiter instance (replaced when its policy's settings change) and the resolved key.
/// </summary>
internal readonly record struct EdgeRateLimitPartition(EdgeRateLimiter? Limiter, string Partition);
