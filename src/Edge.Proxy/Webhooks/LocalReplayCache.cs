using System.Collections.Concurrent;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// In-process insert-if-absent map of delivery keys to their reservation values, with per-entry expiry, used without Redis (or when Redis is down
/// and the policy says <c>Local</c>). Bounded: when full, expired entries go first, then those closest to expiry.
/// </summary>
internal sealed class LocalReplayCache(TimeProvider time, int capacity = LocalReplayCache.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();

    public int Count => _entries.Count;

    /// <summary>
    /// Adds the key with <paramref name="value"/> unless a live copy exists; true when this call added it (the first
    /// delivery), otherwise <paramref name="existing"/> is the value the live copy holds.
    /// </summary>
    public bool TryAdd(string key, TimeSpan ttl, string value, out string existing)
    {
        var now = time.GetUtcNow().UtcTicks;
        var entry = new Entry(now + ttl.Ticks, value);
        if (_entries.Count >= capacity)
        {
            Trim(now);
        }

        while (true)
        {
            if (_entries.TryAdd(key, entry))
            {
                existing = value;
                return true;
            }

            if (!_entries.TryGetValue(key, out var current))
            {
                continue;
            }

            if (current.Expires > now)
            {
                existing = current.Value;
                return false;
            }

            // Expired: exactly one concurrent caller wins the swap.
            if (_entries.TryUpdate(key, entry, current))
            {
                existing = value;
                return true;
            }
        }
    }

    /// <summary>Gives the key <paramref name="replacement"/> while it holds <paramref name="expected"/>, keeping its expiry.</summary>
    public bool TryReplace(string key, string expected, string replacement)
    {
        while (_entries.TryGetValue(key, out var current) && string.Equals(current.Value, expected, StringComparison.Ordinal))
        {
            if (_entries.TryUpdate(key, current with { Value = replacement }, current))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Removes the key while it holds <paramref name="value"/> (an expired one may have been taken by another request).</summary>
    public void Remove(string key, string value)
    {
        if (_entries.TryGetValue(key, out var current) && string.Equals(current.Value, value, StringComparison.Ordinal))
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, current));
        }
    }

    /// <summary>How long the key is still held and its value; false when it is absent or expired.</summary>
    public bool TryGetRemaining(string key, out TimeSpan remaining, out string? value)
    {
        var now = time.GetUtcNow().UtcTicks;
        if (_entries.TryGetValue(key, out var entry) && entry.Expires > now)
        {
            remaining = TimeSpan.FromTicks(entry.Expires - now);
            value = entry.Value;
            return true;
        }

        remaining = TimeSpan.Zero;
        value = null;
        return false;
    }

    private void Trim(long now)
    {
        lock (_trimLock)
        {
            if (_entries.Count < capacity)
            {
                return;
            }

            foreach (var (key, entry) in _entries)
            {
                if (entry.Expires <= now)
                {
                    _entries.TryRemove(key, out _);
                }
            }

            var excess = _entries.Count - (capacity * 9 / 10);
            if (excess <= 0)
            {
                return;
            }

            foreach (var (key, _) in _entries.OrderBy(e => e.Value.Expires).Take(excess).ToList())
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    private readonly record struct Entry(long Expires, string Value);
}
