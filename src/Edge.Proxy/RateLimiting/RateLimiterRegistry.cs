using System.Collections.Concurrent;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The limiters, one per policy, kept across config reloads: steps are rebuilt on every Edge section change, but a
/// limiter (and its leases) is replaced only when its policy's settings change; its in-process buckets go to the
/// replacement unless the algorithm changed.
/// </summary>
internal sealed class RateLimiterRegistry(RedisRateLimitConnection redis, RateLimitMetrics metrics, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, EdgeRateLimiter> _limiters = new(StringComparer.Ordinal);

    public bool UsesRedis => redis.IsConfigured;

    /// <summary>How many limiters are kept.</summary>
    internal int Count => _limiters.Count;

    public EdgeRateLimiter GetOrCreate(RateLimitPolicy policy)
    {
        while (true)
        {
            if (_limiters.TryGetValue(policy.Name, out var existing))
            {
                if (existing.Policy == policy)
                {
                    return existing;
                }

                var replacement = new EdgeRateLimiter(policy, redis, metrics, time, previous: existing);
                if (_limiters.TryUpdate(policy.Name, replacement, existing))
                {
                    return replacement;
                }

                continue;
            }

            var created = _limiters.GetOrAdd(policy.Name, _ => new EdgeRateLimiter(policy, redis, metrics, time));
            if (created.Policy == policy)
            {
                return created;
            }
        }
    }

    public EdgeRateLimiter? Find(string policyName) => _limiters.GetValueOrDefault(policyName);
}
