using System.Collections.Concurrent;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The limiters, one per policy, kept across config reloads: steps are rebuilt on every Edge section change, but a
/// limiter (and its leases) is replaced only when its policy's settings change; its in-process buckets go to the
/// replacement unless the algorithm changed. A policy the applied config no longer has loses its limiter.
/// </summary>
internal sealed class RateLimiterRegistry(RedisRateLimitConnection redis, RateLimitMetrics metrics, TimeProvider time) : IConfigEventSink
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

    /// <summary>
    /// Called once YARP serves <paramref name="current"/>: the limiters of policies it no longer has are dropped, else
    /// every policy ever renamed or removed kept its limiter and all the buckets it filled for the life of the process.
    /// Requests still on the previous routes hold their limiter themselves and finish with it.
    /// </summary>
    public void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current)
    {
        ConfiguredNames.KeepOnly(_limiters, new HashSet<string>(current.RateLimits.Keys, StringComparer.Ordinal));
    }

    public void ConfigRefused(IReadOnlyList<ConfigError> errors)
    {
    }
}
