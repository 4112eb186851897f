using System.Collections.Concurrent;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// In-process insert-if-absent set of delivery keys with per-entry expiry, used without Redis (or when Redis is down
/// and the policy says <c>Local</c>). Bounded: when full, expired entries go first, then those closest to expiry.
/// </summary>
internal sealed class LocalReplayCache(TimeProvider time, int capacity = LocalReplayCache.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;

    private readonly ConcurrentDictionary<string, long> _expiries = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();

    public int Count => _expiries.Count;

    /// <summary>Adds the key unless a live copy exists; true when this call added it (the first delivery).</summary>
    public bool TryAdd(string key, TimeSpan ttl)
    {
        var now = time.GetUtcNow().UtcTicks;
        var expires = now + ttl.Ticks;
        if (_expiries.Count >= capacity)
        {
            Trim(now);
        }

        while (true)
        {
            if (_expiries.TryAdd(key, expires))
            {
                return true;
            }

            if (!_expiries.TryGetValue(key, out var current))
            {
                continue;
            }

            if (current > now)
            {
                return false;
            }

            // Expired: exactly one concurrent caller wins the swap.
            if (_expiries.TryUpdate(key, expires, current))
            {
                return true;
            }
        }
    }

    public void Remove(string key) => _expiries.TryRemove(key, out _);

    /// <summary>How long the key is still held; false when it is absent or expired.</summary>
    public bool TryGetRemaining(string key, out TimeSpan remaining)
    {
        var now = time.GetUtcNow().UtcTicks;
        remaining = _expiries.TryGetValue(key, out var expires) && expires > now ? TimeSpan.FromTicks(expires - now) : TimeSpan.Zero;
        return remaining > TimeSpan.Zero;
    }

    private void Trim(long now)
    {
        lock (_trimLock)
        {
            if (_expiries.Count < capacity)
            {
                return;
            }

            foreach (var (key, expires) in _expiries)
            {
                if (expires <= now)
                {
                    _expiries.TryRemove(key, out _);
                }
            }

            var excess = _expiries.Count - (capacity * 9 / 10);
            if (excess <= 0)
            {
                return;
            }

            foreach (var (key, _) in _expiries.OrderBy(e => e.Value).Take(excess).ToList())
            {
                _expiries.TryRemove(key, out _);
            }
        }
    }
}
