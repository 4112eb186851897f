using System.Collections.Concurrent;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// Buckets kept in this process: the embedded default without Redis (exact for one instance) and the <c>Local</c>
/// fallback while Redis is unavailable. Time comes from the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class InProcessRateLimitStore(TimeProvider time)
{
    private const int SweepEvery = 4096;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private int _created;

    public int Count => _buckets.Count;

    public BucketResult Take(RateLimitPolicy policy, string key, int want, int min)
    {
        var now = time.GetUtcNow().UtcTicks;
        while (true)
        {
            var bucket = _buckets.GetOrAdd(key, static (_, state) => state.Store.CreateBucket(state.Policy, state.Now), (Store: this, Policy: policy, Now: now));
            lock (bucket)
            {
                if (bucket.Removed)
                {
                    continue;
                }

                return bucket.Take(policy, now, want, min);
            }
        }
    }

    private Bucket CreateBucket(RateLimitPolicy policy, long now)
    {
        if (Interlocked.Increment(ref _created) % SweepEvery == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.Sweep(), this, preferLocal: false);
        }

        return new Bucket(policy, now);
    }

    /// <summary>Drops buckets that are full again: a full bucket and a missing one answer the same.</summary>
    private void Sweep()
    {
        var now = time.GetUtcNow().UtcTicks;
        foreach (var (key, bucket) in _buckets)
        {
            lock (bucket)
            {
                if (!bucket.IsFull(now))
                {
                    continue;
                }

                bucket.Removed = true;
            }

            _buckets.TryRemove(new KeyValuePair<string, Bucket>(key, bucket));
        }
    }

    private sealed class Bucket(RateLimitPolicy policy, long now)
    {
        private RateLimitPolicy _policy = policy;

        // TokenBucket: tokens at _last. Gcra: theoretical arrival time (ticks).
        private double _tokens = policy.Burst;
        private long _last = now;
        private double _tat = now;

        public bool Removed { get; set; }

        public BucketResult Take(RateLimitPolicy policy, long now, int want, int min)
        {
            if ((policy.Burst != _policy.Burst || policy.EmissionIntervalTicks != _policy.EmissionIntervalTicks) && !TryRebase(policy, now, want, min))
            {
                // Lowered below what the partition used: refused, and the bucket stays as it was written, as a Redis key
                // is written only when it grants. Rebasing it to empty forgot the excess use, so lowering a limit and
                // raising it back (or the old and new config's requests taking turns during a reload) handed it out again.
                return BucketResult.FromAvailable(Math.Max(0, Rebased(policy, now)), policy.Burst, policy.EmissionIntervalTicks, want, min);
            }

            _policy = policy;
            var emission = policy.EmissionIntervalTicks;
            var available = Available(now);
            var result = BucketResult.FromAvailable(available, policy.Burst, emission, want, min);
            if (result.Granted > 0)
            {
                if (policy.Algorithm == RateLimitAlgorithm.Gcra)
                {
                    _tat = Math.Max(_tat, now) + (result.Granted * emission);
                }
                else
                {
                    _tokens = available - result.Granted;
                    _last = Math.Max(_last, now);
                }
            }

            return result;
        }

        public bool IsFull(long now) => Available(now) >= _policy.Burst;

        /// <summary>
        /// The policy was edited (a reload): the partition keeps what it has used, not what it has left. Raising the
        /// limit gives the difference at once, lowering it takes it away, and a partition that used nothing stays full;
        /// what was left refills at the new rate from now. (Neither a full bucket per edit, which a client could wait for,
        /// nor a spent bucket that ignores a raise the operator made for it.)
        /// </summary>
        private bool TryRebase(RateLimitPolicy policy, long now, int want, int min)
        {
            var rebased = Rebased(policy, now);
            if (Math.Min(want, Math.Floor(rebased)) < min)
            {
                return false;
            }

            var adjusted = rebased;
            if (policy.Algorithm == RateLimitAlgorithm.Gcra)
            {
                _tat = now + ((policy.Burst - adjusted) * policy.EmissionIntervalTicks);
            }
            else
            {
                _tokens = adjusted;
                _last = Math.Max(_last, now);
            }

            return true;
        }

        /// <summary>What is left under <paramref name="policy"/>: what the partition used under the stored settings, kept.</summary>
        private double Rebased(RateLimitPolicy policy, long now) => Math.Min(Available(now) + (policy.Burst - _policy.Burst), policy.Burst);

        private double Available(long now)
        {
            var emission = _policy.EmissionIntervalTicks;
            if (_policy.Algorithm == RateLimitAlgorithm.Gcra)
            {
                return (_policy.Burst * emission - Math.Max(0, _tat - now)) / emission;
            }

            // Never move time backwards: a clock step back neither refills nor drains.
            var elapsed = Math.Max(0, now - _last);
            return Math.Min(_policy.Burst, _tokens + (elapsed / emission));
        }
    }
}
