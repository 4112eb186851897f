using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// One policy as a <see cref="PartitionedRateLimiter{TResource}"/> over resolved partition keys. Without Redis the
/// in-process buckets decide (exact for one instance). With Redis, strict mode makes one script call per decision and
/// lease mode spends locally claimed tokens; both refuse without I/O while Redis has said no token exists yet. A
/// decision never waits longer than the policy's deadline: past it, or while the breaker is open, the outage mode
/// answers. <see cref="AttemptAcquireCore"/> never performs I/O: when only Redis can answer it returns a refused lease
/// marked <see cref="EdgeRateLimitLease.RequiresIo"/> and the caller uses AcquireAsync (as ASP.NET Core's middleware does).
/// </summary>
internal sealed class EdgeRateLimiter : PartitionedRateLimiter<string>
{
    private const int SweepEvery = 4096;

    /// <summary>
    /// The most strict decisions one script call carries. Redis runs a script alone, and its time grows faster than the
    /// batch (measured on Redis 7.0: 100 requests 0.1 ms, 1,000 0.7 ms, 10,000 39 ms, 70,000 1.2 s). Unbounded, an
    /// edge offered more than it can turn around built ever larger batches until one call outlasted the deadline
    /// while Redis was working on it: every decision in it fell back as <c>no_answer</c>, and Redis stalled for every
    /// other key meanwhile. 256 keeps a call well under a millisecond and never binds while the edge keeps up
    /// (healthy hot-key batches average about 10).
    /// </summary>
    internal const int MaxStrictBatch = 256;

    /// <summary>Lease mode: the last batch a key must have been granted for its next batch to be claimed ahead.</summary>
    internal const int RefreshAheadMinBatch = 4;
    private static readonly long IdleStateTicks = Stopwatch.Frequency * 10;

    private readonly InProcessRateLimitStore _local;
    private readonly InProcessRateLimitStore _fallback;
    private readonly RateLimitPolicy _fallbackPolicy;
    private readonly RedisRateLimitConnection _redis;
    private readonly RateLimitMetrics _metrics;
    private readonly ConcurrentDictionary<string, RemoteKeyState> _states = new(StringComparer.Ordinal);
    private readonly string _modeTag;

    // The script's arguments for the common call (one decision of one permit, Redis TIME): never written after the
    // constructor, so every such call shares it (the client only reads it while writing the command).
    private readonly RedisValue[] _singlePermitValues;
    private int _created;
    private long _redisCalls;
    private long _decisions;
    private long _fallbacks;

    /// <param name="previous">
    /// The limiter of this policy's earlier settings, whose in-process buckets (the embedded store and the Local
    /// fallback) carry over when the algorithm is unchanged, as the Redis keys do: an edited policy must not hand
    /// every partition a full bucket.
    /// </param>
    public EdgeRateLimiter(RateLimitPolicy policy, RedisRateLimitConnection redis, RateLimitMetrics metrics, TimeProvider time, EdgeRateLimiter? previous = null)
    {
        Policy = policy;
        _redis = redis;
        _metrics = metrics;
        var carried = previous?.Policy.Algorithm == policy.Algorithm ? previous : null;
        _local = carried?._local ?? new InProcessRateLimitStore(time);
        _fallback = carried?._fallback ?? new InProcessRateLimitStore(time);
        _fallbackPolicy = policy.LocalShareOf();
        _modeTag = !redis.IsConfigured ? "in_process" : policy.Mode == RateLimitMode.Lease ? "lease" : "strict";
        _singlePermitValues = RedisRateLimitScript.Values(policy, [new BucketRequest(1, 1)], clientTimeMicroseconds: null);
    }

    public RateLimitPolicy Policy { get; }

    /// <summary>
    /// A benchmark's debug switch: when set, every strict decision answered by Redis reports where its time went
    /// (<see cref="StrictDecisionPhases"/>), on the thread that continues the decision. Null (no timestamps) otherwise.
    /// </summary>
    internal Action<StrictDecisionPhases>? PhaseTrace { get; set; }

    /// <summary>Redis script calls made by this limiter (benchmarks divide by <see cref="Decisions"/>).</summary>
    public long RedisCalls => Interlocked.Read(ref _redisCalls);

    public long Decisions => Interlocked.Read(ref _decisions);

    /// <summary>Decisions the outage mode answered (also <c>edge_ratelimit_fallbacks_total</c> by reason).</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public override RateLimiterStatistics? GetStatistics(string resource) => null;

    public ValueTask<RateLimitDecision> DecideAsync(string partition, int permits, CancellationToken cancellationToken)
    {
        CheckPermits(permits);
        if (TryDecideWithoutIo(partition, permits, out var state) is { } decision)
        {
            // The common case (a lease token, a cached refusal, the in-process store): no async state machine.
            Record(decision);
            return new ValueTask<RateLimitDecision>(decision);
        }

        return Policy.Mode == RateLimitMode.Lease
            ? DecideLeaseAndRecordAsync(partition, state!, permits, cancellationToken)
            : DecideStrictAsync(partition, state!, permits, cancellationToken);
    }

    private async ValueTask<RateLimitDecision> DecideLeaseAndRecordAsync(string partition, RemoteKeyState state, int permits, CancellationToken cancellationToken)
    {
        var decision = await DecideLeaseAsync(partition, state, permits, cancellationToken).ConfigureAwait(false);
        Record(decision);
        return decision;
    }

    protected override RateLimitLease AttemptAcquireCore(string resource, int permitCount)
    {
        CheckPermits(permitCount);
        if (TryDecideWithoutIo(resource, permitCount, out _) is { } decision)
        {
            Record(decision);
            return new EdgeRateLimitLease(decision);
        }

        return EdgeRateLimitLease.Undecided(Policy.Limit);
    }

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(string resource, int permitCount, CancellationToken cancellationToken) =>
        new EdgeRateLimitLease(await DecideAsync(resource, permitCount, cancellationToken).ConfigureAwait(false));

    private void CheckPermits(int permits)
    {
        if (permits < 1 || permits > Policy.Burst)
        {
            throw new ArgumentOutOfRangeException(nameof(permits), permits, $"must be between 1 and the burst ({Policy.Burst})");
        }
    }

    private void Record(in RateLimitDecision decision)
    {
        Interlocked.Increment(ref _decisions);
        _metrics.Decision(Policy, _modeTag, decision);
    }

    /// <summary>Answers from local state only, or returns null (with the key's state) when Redis must be asked.</summary>
    private RateLimitDecision? TryDecideWithoutIo(string partition, int permits, out RemoteKeyState? state)
    {
        state = null;
        if (!_redis.IsConfigured)
        {
            return RateLimitDecision.From(_local.Take(Policy, partition, permits, permits), RateLimitDecisionSource.InProcess, Policy.Limit);
        }

        state = GetState(partition);
        var now = Stopwatch.GetTimestamp();
        RateLimitDecision? leased = null;
        TaskCompletionSource? refresh = null;
        var refreshWant = 0;
        lock (state)
        {
            state.LastUsed = now;
            state.DecisionsSinceClaim++;
            if (CachedRefusal(state, now) is { } refused)
            {
                return refused;
            }

            if (Policy.Mode == RateLimitMode.Lease)
            {
                leased = TrySpendLease(state, permits, now);
                if (leased is not null)
                {
                    refresh = TryBeginRefreshLocked(state, now, out refreshWant);
                }
            }
        }

        if (leased is { } spent)
        {
            if (refresh is not null)
            {
                _ = RefreshLeaseAsync(partition, state, refresh, refreshWant);
            }

            return spent;
        }

        if (_redis.BreakerFor(Policy, partition).Breaker.IsShortCircuiting)
        {
            return Fallback(partition, permits, RateLimitFallbackReason.BreakerOpen);
        }

        return null;
    }

    /// <summary>
    /// Redis said no token exists before <see cref="RemoteKeyState.RefuseUntil"/>: refuse without asking again. The reset
    /// is the one Redis gave with that refusal, counted down: a bucket reported as empty (a full refill from now) made
    /// <c>X-RateLimit-Reset</c> move later with every cached refusal, past what Redis had said. Call under the state's lock.
    /// </summary>
    private RateLimitDecision? CachedRefusal(RemoteKeyState state, long now) =>
        state.RefuseUntil > now
            ? new RateLimitDecision(false, RateLimitDecisionSource.RefusalCache, Policy.Limit, 0,
                Stopwatch.GetElapsedTime(now, Math.Max(state.RefuseResetAt, state.RefuseUntil)), Stopwatch.GetElapsedTime(now, state.RefuseUntil))
            : null;

    /// <summary>Caches a refusal Redis answered at <paramref name="now"/> (its retry and reset). Call under the state's lock.</summary>
    private static void CacheRefusal(RemoteKeyState state, in BucketResult result, long now)
    {
        var until = now + Ticks(result.RetryAfter);
        if (until >= state.RefuseUntil)
        {
            state.RefuseUntil = until;
            state.RefuseResetAt = now + Ticks(result.ResetAfter);
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>
    /// Spends lease tokens claimed earlier, dropping expired ones first: the current lease's, then the next lease's (a
    /// batch claimed ahead, see <see cref="TryBeginRefreshLocked"/>), each within its own claim's <c>LeaseDuration</c>.
    /// Call under the state's lock.
    /// </summary>
    private RateLimitDecision? TrySpendLease(RemoteKeyState state, int permits, long now)
    {
        if (state.LeaseExpires <= now)
        {
            state.LeaseTokens = 0;
        }

        if (state.NextLeaseExpires <= now)
        {
            state.NextLeaseTokens = 0;
        }

        if (state.LeaseTokens + state.NextLeaseTokens < permits)
        {
            return null;
        }

        var fromCurrent = Math.Min(permits, state.LeaseTokens);
        state.LeaseTokens -= fromCurrent;
        if (state.LeaseTokens == 0 && state.NextLeaseTokens > 0)
        {
            (state.LeaseTokens, state.LeaseExpires) = (state.NextLeaseTokens, state.NextLeaseExpires);
            state.NextLeaseTokens = 0;
            state.LeaseTokens -= permits - fromCurrent;
        }

        var remaining = state.RemoteRemaining + state.LeaseTokens + state.NextLeaseTokens;
        return new RateLimitDecision(true, RateLimitDecisionSource.Lease, Policy.Limit, remaining, ResetFor(remaining), TimeSpan.Zero);
    }

    /// <summary>
    /// Refresh-ahead: when a hot key's lease runs low (a quarter of its last batch left), its next batch is claimed in
    /// the background while the rest is spent, so decisions on it do not stop for a Redis round trip every batch (they
    /// did: one decision per batch made the claim and waited, with those arriving meanwhile, which put the claim's
    /// round trip into the decision p99). The next batch is at most <c>LeaseMaxBatch</c> minus the tokens still held,
    /// so an instance never holds more than <c>LeaseMaxBatch</c> of a key and the over-admission bound stays as
    /// documented. Cold keys (a last batch under <see cref="RefreshAheadMinBatch"/>) claim only when empty, as before.
    /// Returns the claim to run (already marked in flight) or null. Call under the state's lock.
    /// </summary>
    private TaskCompletionSource? TryBeginRefreshLocked(RemoteKeyState state, long now, out int want)
    {
        want = 0;
        if (state.ClaimInFlight is not null || state.NextLeaseTokens > 0 || state.LastGranted < RefreshAheadMinBatch
            || state.LeaseTokens > state.LastGranted / 4 || state.NoRefreshUntil > now)
        {
            return null;
        }

        want = Math.Min(BatchSizeLocked(state), Policy.LeaseMaxBatch - state.LeaseTokens);
        if (want < 1)
        {
            return null;
        }

        var claim = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        state.ClaimInFlight = claim.Task;
        return claim;
    }

    /// <summary>
    /// The background claim of <see cref="TryBeginRefreshLocked"/>. Its answer fills the next lease; decisions that found
    /// the lease empty meanwhile wait for it as for any claim and share a failure's answer. A refusal (no token in Redis)
    /// stops refreshing until its retry time, and is cached for new decisions once the current lease is spent.
    /// </summary>
    private async Task RefreshLeaseAsync(string partition, RemoteKeyState state, TaskCompletionSource claim, int want)
    {
        try
        {
            var (answer, reason) = await CallRedisAsync(partition, state, [new BucketRequest(want, 1)], new RedisCommandWatch()).ConfigureAwait(false);
            var now = Stopwatch.GetTimestamp();
            lock (state)
            {
                if (answer is null)
                {
                    state.ClaimFailedAt = now;
                    state.ClaimFailure = reason;
                    return;
                }

                var result = RedisRateLimitScript.Parse(answer, 0);
                if (result.Granted == 0)
                {
                    state.NoRefreshUntil = now + Ticks(result.RetryAfter);
                    if (state.LeaseExpires <= now || state.LeaseTokens == 0)
                    {
                        CacheRefusal(state, result, now);
                    }

                    return;
                }

                state.NextLeaseTokens = result.Granted;
                state.NextLeaseExpires = now + (long)(Policy.LeaseDuration.TotalSeconds * Stopwatch.Frequency);
                state.RemoteRemaining = result.Remaining;
                state.LastClaim = now;
                state.DecisionsSinceClaim = 0;
                state.LastGranted = result.Granted;
            }
        }
        catch (Exception)
        {
            // CallRedisAsync answers every Redis failure itself; anything else must not go unobserved on a
            // fire-and-forget task. Decisions waiting for this claim share the failure like a claim's own.
            lock (state)
            {
                state.ClaimFailedAt = Stopwatch.GetTimestamp();
                state.ClaimFailure = RateLimitFallbackReason.Error;
            }
        }
        finally
        {
            lock (state)
            {
                state.ClaimInFlight = null;
            }

            claim.SetResult();
        }
    }

    /// <summary>
    /// Strict mode with coalescing: at most one script call per key is in flight from this instance; decisions that
    /// arrive meanwhile join the next call, which applies them in arrival order inside one atomic script and returns
    /// each its own grant. Exactly what sequential calls would decide, but a hot key costs one round trip per batch
    /// instead of a queue of round trips. Different keys never wait for each other (the multiplexer pipelines them).
    /// A call carries at most <see cref="MaxStrictBatch"/> decisions; the rest wait for the next call.
    /// A decision that finds no call in flight makes its own call and awaits it itself: no waiter object, no
    /// cancellable wait and no second thread-pool hop from the batch to the request (on 10k keys, and on any key
    /// at a modest rate, almost every decision). Its wait is not cut short by the request's cancellation; it is
    /// bounded like any call (<see cref="RedisRateLimitConnection.AwaitAnswerAsync"/>). Decisions queued meanwhile
    /// are handed to <see cref="RunStrictBatchAsync"/> when its call is answered. Records the decision.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RateLimitDecision> DecideStrictAsync(string partition, RemoteKeyState state, int permits, CancellationToken cancellationToken)
    {
        var trace = PhaseTrace;
        var arrived = trace is null ? 0 : Stopwatch.GetTimestamp();
        StrictWaiter? waiter = null;
        lock (state)
        {
            if (state.InFlight)
            {
                waiter = new StrictWaiter(permits) { Cancellation = cancellationToken, Phases = trace is null ? null : new StrictWaiterPhases(arrived) };
                (state.Pending ??= new Queue<StrictWaiter>()).Enqueue(waiter);
            }
            else
            {
                state.InFlight = true;
            }
        }

        RateLimitDecision decision;
        if (waiter is not null)
        {
            decision = await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (trace is not null && waiter.Phases is { Sent: not 0 } p)
            {
                trace(new StrictDecisionPhases(p.Arrived, p.Sent, p.Read, p.ReadOnReader, p.Resumed, p.Completed, Stopwatch.GetTimestamp(), p.BatchSize));
            }

            Record(decision);
            return decision;
        }

        var failure = RateLimitFallbackReason.None;
        try
        {
            var watch = new RedisCommandWatch(tracePhases: trace is not null);
            var (result, reason) = await CallRedisAsync(partition, state, [new BucketRequest(permits, permits)], watch).ConfigureAwait(false);
            failure = reason;
            var now = Stopwatch.GetTimestamp();
            decision = result is null
                ? Fallback(partition, permits, reason)
                : StrictDecision(state, permits, RedisRateLimitScript.Parse(result, 0), now);
            if (trace is not null && watch.SentAt != 0)
            {
                trace(new StrictDecisionPhases(arrived, watch.SentAt, watch.ReadAt, watch.ReadOnReader, now, Stopwatch.GetTimestamp(), Stopwatch.GetTimestamp(), 1));
            }
        }
        finally
        {
            // Whatever happened to this call, the decisions queued behind it get theirs.
            ContinueQueue(partition, state, failure);
        }

        Record(decision);
        return decision;
    }

    /// <summary>A strict decision from its share of a script call; a refusal of one permit is cached until its retry time.</summary>
    private RateLimitDecision StrictDecision(RemoteKeyState state, int permits, in BucketResult result, long now)
    {
        if (result.Granted == 0 && permits == 1)
        {
            lock (state)
            {
                CacheRefusal(state, result, now);
            }
        }

        return RateLimitDecision.From(result, RateLimitDecisionSource.Redis, Policy.Limit);
    }

    /// <summary>
    /// After a key's call: decisions that queued behind a failed call share its answer at once (on a blackhole they
    /// already waited a whole deadline of silence, and a call of their own would wait a second one for the same silent
    /// node); otherwise the next batch, if any, goes out on its own task. Clears the key's in-flight mark when none wait.
    /// </summary>
    private void ContinueQueue(string partition, RemoteKeyState state, RateLimitFallbackReason failure)
    {
        if (failure != RateLimitFallbackReason.None)
        {
            foreach (var queued in DrainPending(state))
            {
                queued.TrySetResult(Fallback(partition, queued.Permits, failure));
            }
        }

        if (TakePending(state) is { } next)
        {
            _ = RunStrictBatchAsync(partition, state, next);
        }
    }

    private async Task RunStrictBatchAsync(string partition, RemoteKeyState state, List<StrictWaiter> first)
    {
        for (List<StrictWaiter>? batch = first; batch is not null;)
        {
            var failure = RateLimitFallbackReason.None;
            try
            {
                var requests = new BucketRequest[batch.Count];
                for (var i = 0; i < batch.Count; i++)
                {
                    requests[i] = new BucketRequest(batch[i].Permits, batch[i].Permits);
                }

                var watch = new RedisCommandWatch(tracePhases: PhaseTrace is not null);
                var (result, reason) = await CallRedisAsync(partition, state, requests, watch).ConfigureAwait(false);
                failure = reason;
                var now = Stopwatch.GetTimestamp();
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Phases?.Traced(watch, now, batch.Count);
                    batch[i].TrySetResult(result is null
                        ? Fallback(partition, batch[i].Permits, reason)
                        : StrictDecision(state, batch[i].Permits, RedisRateLimitScript.Parse(result, i), now));
                }
            }
            catch (Exception ex)
            {
                // Never leave a waiter hanging: whatever escaped is reported to every decision of the batch.
                foreach (var waiter in batch)
                {
                    waiter.TrySetException(ex);
                }
            }

            if (failure != RateLimitFallbackReason.None)
            {
                // These decisions queued behind a call that just failed (on a blackhole: after a whole deadline of
                // silence). Sending them now would make each wait a second deadline for the same silent node, so they
                // share the failed call's answer at once; decisions arriving from now on get a call of their own.
                foreach (var waiter in DrainPending(state))
                {
                    waiter.TrySetResult(Fallback(partition, waiter.Permits, failure));
                }
            }

            batch = TakePending(state);
        }
    }

    /// <summary>Every decision still queued; the key stays marked in flight (the caller takes the next batch itself).</summary>
    private static StrictWaiter[] DrainPending(RemoteKeyState state)
    {
        lock (state)
        {
            var queued = state.Pending?.ToArray() ?? [];
            state.Pending?.Clear();
            return queued;
        }
    }

    /// <summary>
    /// The next call's decisions, oldest first and at most <see cref="MaxStrictBatch"/>; null (and no call in flight) when
    /// none wait. A decision whose request was aborted while it queued is dropped here, before its call is sent, so a
    /// client that went away takes no token from the shared bucket.
    /// </summary>
    private static List<StrictWaiter>? TakePending(RemoteKeyState state)
    {
        lock (state)
        {
            List<StrictWaiter>? batch = null;
            while (state.Pending is { Count: > 0 } pending && (batch?.Count ?? 0) < MaxStrictBatch)
            {
                var waiter = pending.Dequeue();
                if (waiter.Cancellation.IsCancellationRequested)
                {
                    waiter.TrySetCanceled(waiter.Cancellation);
                    continue;
                }

                (batch ??= new List<StrictWaiter>(Math.Min(pending.Count + 1, MaxStrictBatch))).Add(waiter);
            }

            if (batch is null)
            {
                state.InFlight = false;
            }

            return batch;
        }
    }

    private async ValueTask<RateLimitDecision> DecideLeaseAsync(string partition, RemoteKeyState state, int permits, CancellationToken cancellationToken)
    {
        // One claim per key in flight. Decisions that arrive meanwhile wait for it (bounded by its own deadline) and
        // are counted, so the next claim is sized to serve all of them; when a claim completes, every waiter is
        // released at once and spends from the refilled lease. A semaphore would release them one at a time, each
        // after a thread-pool hop: on a hot key that queue drained more slowly than it filled (2-2.5 s at p50 at 5% of
        // the lease's saturation). Waiting here is queueing on this edge, never a reason to fall back by itself.
        var arrived = Stopwatch.GetTimestamp();
        var waiting = false;
        while (true)
        {
            Task? claimInFlight;
            TaskCompletionSource? claim = null;
            var want = 0;
            lock (state)
            {
                if (waiting)
                {
                    state.WaitingPermits -= permits;
                    waiting = false;
                }

                var now = Stopwatch.GetTimestamp();
                if (TrySpendLease(state, permits, now) is { } spent)
                {
                    return spent;
                }

                // A claim failed while this decision waited for it: claiming again would queue every waiter behind
                // one more deadline each on a silent node. Share the failed claim's answer instead.
                if (state.ClaimFailedAt > arrived)
                {
                    return Fallback(partition, permits, state.ClaimFailure);
                }

                // The claim this decision waited for was refused: Redis has no token yet, as a new arrival is told.
                if (CachedRefusal(state, now) is { } refused)
                {
                    return refused;
                }

                claimInFlight = state.ClaimInFlight;
                if (claimInFlight is null)
                {
                    claim = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    state.ClaimInFlight = claim.Task;
                    // Enough for this decision and every decision already waiting, within the configured batch bound
                    // (unspent lease tokens are what over-admission can cost, and these are spent at once).
                    want = Math.Max(permits, Math.Min(Math.Max(BatchSizeLocked(state), permits + state.WaitingPermits), Policy.LeaseMaxBatch));
                }
                else
                {
                    state.WaitingPermits += permits;
                    waiting = true;
                }
            }

            if (claim is null)
            {
                try
                {
                    await claimInFlight!.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    lock (state)
                    {
                        state.WaitingPermits -= permits;
                    }

                    throw;
                }

                continue;
            }

            try
            {
                return await ClaimAsync(partition, state, permits, want).ConfigureAwait(false);
            }
            finally
            {
                lock (state)
                {
                    state.ClaimInFlight = null;
                }

                claim.SetResult();
            }
        }
    }

    private async ValueTask<RateLimitDecision> ClaimAsync(string partition, RemoteKeyState state, int permits, int want)
    {
        var (answer, reason) = await CallRedisAsync(partition, state, [new BucketRequest(want, permits)], new RedisCommandWatch()).ConfigureAwait(false);
        if (answer is null)
        {
            lock (state)
            {
                state.ClaimFailedAt = Stopwatch.GetTimestamp();
                state.ClaimFailure = reason;
            }

            return Fallback(partition, permits, reason);
        }

        var result = RedisRateLimitScript.Parse(answer, 0);
        var now = Stopwatch.GetTimestamp();
        lock (state)
        {
            if (result.Granted == 0)
            {
                CacheRefusal(state, result, now);
                return RateLimitDecision.From(result, RateLimitDecisionSource.Redis, Policy.Limit);
            }

            state.LeaseTokens = (state.LeaseExpires > now ? state.LeaseTokens : 0) + result.Granted - permits;
            state.LeaseExpires = now + (long)(Policy.LeaseDuration.TotalSeconds * Stopwatch.Frequency);
            state.RemoteRemaining = result.Remaining;
            state.LastClaim = now;
            state.DecisionsSinceClaim = 0;
            state.LastGranted = result.Granted;
            var remaining = result.Remaining + state.LeaseTokens + state.NextLeaseTokens;
            return new RateLimitDecision(true, RateLimitDecisionSource.Redis, Policy.Limit, remaining, ResetFor(remaining), TimeSpan.Zero);
        }
    }

    /// <summary>
    /// One script call, or the reason the outage mode must answer instead. An outage known before sending (no
    /// connection, open breaker) answers at once; a failing connection answers as soon as it fails; a sent command
    /// is given up only when Redis stays silent for the deadline counted from the send (see
    /// <see cref="RedisRateLimitConnection.AwaitAnswerAsync"/>). Only real failures feed the breaker.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(RedisResult? Result, RateLimitFallbackReason Reason)> CallRedisAsync(string partition, RemoteKeyState state, BucketRequest[] requests, RedisCommandWatch watch)
    {
        var node = _redis.BreakerFor(Policy, partition);
        if (!node.Breaker.TryEnter(out var isProbe))
        {
            return (null, RateLimitFallbackReason.BreakerOpen);
        }

        var database = _redis.Database;
        if (database is null)
        {
            _metrics.RedisCall(Policy, "unavailable");
            _redis.OnFailure(node, isProbe, Policy, RateLimitFallbackReason.Disconnected, error: null);
            return (null, RateLimitFallbackReason.Disconnected);
        }

        Interlocked.Increment(ref _redisCalls);
        var sentAt = Stopwatch.GetTimestamp();
        var keys = state.Keys ??= [RedisRateLimitScript.KeyOf(Policy, partition)];
        var values = requests is [{ Want: 1, Min: 1 }] ? _singlePermitValues : null;
        // The common call is the client's own task, awaited here; anything a retry can fix goes to EvaluateAsync.
        var call = _redis.TrySendDirect(database, keys, values, watch);
        var direct = call is not null;
        call ??= _redis.EvaluateAsync(node, database, Policy, keys, requests, values, watch);
        while (true)
        {
            if (!call.IsCompleted)
            {
                var waited = await _redis.AwaitAnswerAsync(node, call, watch, sentAt, Policy.DecisionDeadline).ConfigureAwait(false);
                if (waited != RateLimitFallbackReason.None)
                {
                    // The call may still finish or fail later; observe it so it never surfaces as unobserved.
                    _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    _metrics.RedisCall(Policy, "timeout");
                    _redis.OnGivenUp(node, isProbe, Policy, waited, call, sentAt);
                    return (null, waited);
                }
            }

            Exception failure;
            try
            {
                var result = await call.ConfigureAwait(false);
                if (direct)
                {
                    node.Answered();
                }

                _metrics.RedisCall(Policy, "ok");
                _redis.OnSuccess(node, isProbe);
                return (result, RateLimitFallbackReason.None);
            }
            catch (Exception ex) when (ex is TimeoutException or RedisException or ObjectDisposedException)
            {
                failure = ex;
            }

            if (direct && _redis.RetryDirect(failure, node, database, Policy, keys, requests, watch) is { } retry)
            {
                (call, direct, sentAt) = (retry, false, Stopwatch.GetTimestamp());
                continue;
            }

            if (direct && failure is RedisServerException)
            {
                node.Answered();
            }

            var reason = failure switch
            {
                RedisConnectionException or ObjectDisposedException => RateLimitFallbackReason.ConnectionFailed,
                TimeoutException => RateLimitFallbackReason.Overloaded,
                _ => RateLimitFallbackReason.Error,
            };
            _metrics.RedisCall(Policy, reason == RateLimitFallbackReason.Overloaded ? "timeout" : "error");
            _redis.OnFailure(node, isProbe, Policy, reason, failure);
            return (null, reason);
        }
    }

    /// <summary>
    /// Sizes a lease claim to the rate observed since the previous claim, so a batch lasts about half the lease
    /// duration: hot keys claim many tokens, cold keys one (strict behaviour).
    /// </summary>
    private int BatchSizeLocked(RemoteKeyState state)
    {
        if (state.LastClaim == 0)
        {
            return 1;
        }

        var elapsed = Math.Max(Stopwatch.GetElapsedTime(state.LastClaim).TotalSeconds, 0.001);
        var rate = state.DecisionsSinceClaim / elapsed;
        var target = (int)Math.Ceiling(rate * Policy.LeaseDuration.TotalSeconds / 2);
        return Math.Clamp(target, 1, Policy.LeaseMaxBatch);
    }

    private RateLimitDecision Fallback(string partition, int permits, RateLimitFallbackReason reason)
    {
        RateLimitDecision decision;
        switch (Policy.OnRedisUnavailable)
        {
            case RedisOutageMode.Open:
                decision = new RateLimitDecision(true, RateLimitDecisionSource.FallbackOpen, Policy.Limit, null, null, TimeSpan.Zero);
                break;
            case RedisOutageMode.Closed:
                var retry = _redis.BreakerFor(Policy, partition).Breaker.RemainingOpen();
                decision = new RateLimitDecision(false, RateLimitDecisionSource.FallbackClosed, Policy.Limit, null, null, retry > TimeSpan.Zero ? retry : RedisRateLimitConnection.BreakDuration);
                break;
            default:
                var result = _fallback.Take(_fallbackPolicy, partition, Math.Min(permits, _fallbackPolicy.Burst), Math.Min(permits, _fallbackPolicy.Burst));
                decision = new RateLimitDecision(result.Granted > 0, RateLimitDecisionSource.FallbackLocal, _fallbackPolicy.Limit, result.Remaining, result.ResetAfter, result.RetryAfter);
                break;
        }

        decision = decision with { FallbackReason = reason };
        _metrics.Fallback(Policy, decision);
        Interlocked.Increment(ref _fallbacks);
        return decision;
    }

    private TimeSpan ResetFor(long remaining) =>
        TimeSpan.FromTicks((long)Math.Ceiling(Math.Max(0, Policy.Burst - remaining) * Policy.EmissionIntervalTicks));

    private RemoteKeyState GetState(string partition)
    {
        if (_states.TryGetValue(partition, out var existing))
        {
            return existing;
        }

        var state = _states.GetOrAdd(partition, static _ => new RemoteKeyState());
        if (Interlocked.Increment(ref _created) % SweepEvery == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static limiter => limiter.SweepIdleStates(), this, preferLocal: false);
        }

        return state;
    }

    /// <summary>Forgets keys idle for 10 s; unspent lease tokens of such keys are dropped (never over-admits).</summary>
    private void SweepIdleStates()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (key, state) in _states)
        {
            lock (state)
            {
                if (now - state.LastUsed < IdleStateTicks || state.RefuseUntil > now || state.ClaimInFlight is not null || state.InFlight)
                {
                    continue;
                }
            }

            _states.TryRemove(new KeyValuePair<string, RemoteKeyState>(key, state));
        }
    }

    private sealed class RemoteKeyState
    {
        /// <summary>The script's key array for this partition, made by its first call (never written after).</summary>
        public RedisKey[]? Keys { get; set; }

        /// <summary>Lease mode: the claim in flight for this key, completed when it is answered or given up.</summary>
        public Task? ClaimInFlight { get; set; }

        /// <summary>Lease mode: permits of the decisions waiting for <see cref="ClaimInFlight"/> (the next claim's size).</summary>
        public int WaitingPermits { get; set; }

        /// <summary>Strict mode: a script call for this key is in flight; new decisions join <see cref="Pending"/>.</summary>
        public bool InFlight { get; set; }

        public Queue<StrictWaiter>? Pending { get; set; }

        public long LastUsed { get; set; }

        /// <summary>Stopwatch time before which Redis said no token exists: refuse without asking again.</summary>
        public long RefuseUntil { get; set; }

        /// <summary>Stopwatch time at which Redis said, with the refusal cached in <see cref="RefuseUntil"/>, the bucket is full again.</summary>
        public long RefuseResetAt { get; set; }

        public int LeaseTokens { get; set; }

        public long LeaseExpires { get; set; }

        /// <summary>Lease mode: the batch claimed ahead (refresh-ahead), spent once the current lease is; 0 when none.</summary>
        public int NextLeaseTokens { get; set; }

        public long NextLeaseExpires { get; set; }

        /// <summary>Lease mode: the size of the last granted batch (a key whose batches reach <see cref="RefreshAheadMinBatch"/> is hot).</summary>
        public int LastGranted { get; set; }

        /// <summary>Lease mode: a refresh-ahead claim was refused; no other is sent before this Stopwatch time.</summary>
        public long NoRefreshUntil { get; set; }

        public long RemoteRemaining { get; set; }

        public long LastClaim { get; set; }

        public int DecisionsSinceClaim { get; set; }

        /// <summary>Lease mode: when the last claim failed, and why (decisions that waited for it share its answer).</summary>
        public long ClaimFailedAt { get; set; }

        public RateLimitFallbackReason ClaimFailure { get; set; }
    }

    /// <summary>One strict decision waiting for its share of a coalesced script call.</summary>
    private sealed class StrictWaiter(int permits) : TaskCompletionSource<RateLimitDecision>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public int Permits { get; } = permits;

        /// <summary>The request's abort token: checked when the decision's call is about to be sent.</summary>
        public CancellationToken Cancellation { get; init; }

        /// <summary>Phase timestamps, only while <see cref="PhaseTrace"/> is set (otherwise null: nothing allocated).</summary>
        public StrictWaiterPhases? Phases { get; init; }
    }

    /// <summary>Where one strict decision is (Stopwatch timestamps), copied from its script call before its result is set.</summary>
    private sealed class StrictWaiterPhases(long arrived)
    {
        public long Arrived { get; } = arrived;

        public long Sent { get; private set; }

        public long Read { get; private set; }

        public bool ReadOnReader { get; private set; }

        public long Resumed { get; private set; }

        public long Completed { get; private set; }

        public int BatchSize { get; private set; }

        /// <summary>Copies the call's timestamps before the result is set (the caller reads them after its await).</summary>
        public void Traced(RedisCommandWatch watch, long resumed, int batchSize)
        {
            (Sent, Read, ReadOnReader, Resumed, BatchSize) = (watch.SentAt, watch.ReadAt, watch.ReadOnReader, resumed, batchSize);
            Completed = Stopwatch.GetTimestamp();
        }
    }
}
