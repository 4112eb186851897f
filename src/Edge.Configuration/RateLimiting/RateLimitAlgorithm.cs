namespace Edge.Configuration.RateLimiting;

internal enum RateLimitAlgorithm
{
    TokenBucket,
    Gcra,
}
