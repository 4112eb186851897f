namespace Edge.Proxy.RateLimiting;

public enum RateLimitAlgorithm
{
    TokenBucket,
    Gcra,
}
