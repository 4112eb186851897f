namespace Edge.Proxy.RateLimiting;

internal enum RateLimitAlgorithm
{
    TokenBucket,
    Gcra,
}
