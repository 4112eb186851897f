using System.Diagnostics;
using System.Globalization;
using Edge.Configuration;
using Edge.Configuration.RateLimiting;
using Edge.Proxy.RateLimiting;
using HdrHistogram;
using StackExchange.Redis;

namespace Edge.Load.RateLimits;

/// <summary>One strict/lease × keys × Redis row: saturation (closed model), then latency at a fraction of it (open model).</summary>
internal sealed record ThroughputRow(
    int Round, string Redis, int Instances, string Mode, int Keys, double LoadAverage, int Copies,
    double Saturation, double ClosedP50, double ClosedP99,
    double OpenRate, double P50, double P99, double P999, double Max,
    double LagP50, double LagP99, double ServiceP50, double ServiceP99, double ServiceP999,
    long Decisions, long ScriptCalls, long Fallbacks, string FallbackReasons,
    Generator Generator, OpenRunStats OpenStats, PhaseTally? Phases)
{
    public double CallsPerDecision => Decisions == 0 ? double.NaN : (double)ScriptCalls / Decisions;

    /// <summary>
    /// The harness process's CPU time (user + system, every thread: limiters, client, closed-model callers) per decision
    /// of the closed phase at saturation; redis-server is another process and not counted. Robust to other load on the
    /// host, unlike the rates: the work per decision does not depend on how long it waited for a core.
    /// </summary>
    public double ClosedCpuMicrosecondsPerDecision { get; init; } = double.NaN;

    /// <summary>Bytes the harness process allocated per decision of the closed phase.</summary>
    public double ClosedBytesPerDecision { get; init; } = double.NaN;
}

/// <summary>
/// The open model's own figures: decisions issued per wake-up of the dispatcher (p50 / p99 / max) and the harness
/// process's garbage collections during it (a GC pause stops the limiter, the client's reader and the dispatcher alike)
/// and the bytes it allocated per decision (limiter, client and the harness's own per-decision task together).
/// </summary>
internal sealed record OpenRunStats(long WakeUps, double BurstP50, double BurstP99, double BurstMax, int Gen0, int Gen1, int Gen2, double GcPauseMs, double AllocatedBytesPerDecision, double GcPausePercent, double DispatcherCpuPercent);

/// <summary>The blackhole phase: Redis (on a cluster, the hot key's master) SIGSTOPped while decisions arrive at a fixed rate.</summary>
internal sealed record BlackholeRow(
    int Round, string Redis, int Instances, string Mode, double LoadAverage, TimeSpan Deadline, double Rate, TimeSpan Stopped,
    long HealthyFallbacks, long StopDecisions, double StopP50, double StopP99, double StopP999, double StopMax,
    long StopFallbacks, string StopFallbackReasons, long AfterFallbacks, string AfterFallbackReasons,
    double? FirstSharedAfterResumeMs, double? LastFallbackAfterResumeMs)
{
    public bool WithinTwiceDeadline => StopP99 <= 2 * Deadline.TotalMilliseconds * 1000;
}

/// <summary>
/// <c>edge-load ratelimit</c>: decision-only throughput and latency of the edge's own limiter
/// (<see cref="EdgeRateLimiter.DecideAsync"/>, the call the rate-limit step makes) against a real Redis or a real
/// 3-master cluster, with several limiter instances sharing the buckets, and a blackhole phase.
/// </summary>
internal static class RateLimitBench
{
    public const string HotPartition = "acme:hot";

    public static async Task<(List<ThroughputRow> Rows, List<BlackholeRow> Blackholes)> RunAsync(
        RateLimitBenchOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        var rows = new List<ThroughputRow>();
        var blackholes = new List<BlackholeRow>();
        var stores = new List<RedisUnderTest>();
        try
        {
            if (options.Connect is not null)
            {
                stores.Add(RedisUnderTest.Attach(options.Connect, options.RedisPid));
            }
            else
            {
                foreach (var kind in options.Redis)
                {
                    stores.Add(await RedisUnderTest.StartAsync(kind).ConfigureAwait(false));
                }
            }

            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var store in stores)
                {
                    var instances = new List<LimiterInstance>();
                    try
                    {
                        for (var i = 0; i < options.Instances; i++)
                        {
                            instances.Add(await LimiterInstance.StartAsync(store.ConnectionString, cancellationToken).ConfigureAwait(false));
                        }

                        foreach (var mode in options.Modes)
                        {
                            foreach (var keys in options.Keys)
                            {
                                cancellationToken.ThrowIfCancellationRequested();
                                var row = await ThroughputAsync(options, store, instances, round, mode, keys, cancellationToken).ConfigureAwait(false);
                                rows.Add(row);
                                await progress.WriteLineAsync(RateLimitBenchReport.Line(row)).ConfigureAwait(false);
                            }
                        }

                        if (options.Blackhole > TimeSpan.Zero && store.CanFreeze)
                        {
                            // The floor modes have no deadline: a frozen server would hold them until it resumes.
                            foreach (var mode in options.Modes.Where(m => m is "strict" or "lease"))
                            {
                                cancellationToken.ThrowIfCancellationRequested();
                                var row = await BlackholeAsync(options, store, instances, round, mode, cancellationToken).ConfigureAwait(false);
                                blackholes.Add(row);
                                await progress.WriteLineAsync(RateLimitBenchReport.Line(row)).ConfigureAwait(false);
                            }
                        }
                    }
                    finally
                    {
                        foreach (var instance in instances)
                        {
                            instance.Dispose();
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }
        }

        return (rows, blackholes);
    }

    private static RateLimitPolicy Policy(RateLimitBenchOptions options, string name, string mode)
    {
        var errors = new ConfigErrorList();
        var defaults = new RateLimitPolicyOptions();
        // 10,000,000 per hour: every decision is an admission, the expensive path (a refusal is answered from the cache).
        var policyOptions = new RateLimitPolicyOptions
        {
            Limit = 10_000_000,
            Window = TimeSpan.FromHours(1),
            Mode = mode == "lease" ? "Lease" : "Strict",
            OnRedisUnavailable = "Local",
            DecisionDeadline = options.Deadline ?? defaults.DecisionDeadline,
        };
        return RateLimitPolicy.TryCreate(name, policyOptions, errors) ?? throw new InvalidOperationException(string.Join("; ", errors.Errors));
    }

    private static Decide Decider(IReadOnlyList<LimiterInstance> instances, string mode, RateLimitPolicy policy, string[] partitions, CancellationToken cancellationToken)
    {
        if (mode is "script" or "get")
        {
            return FloorDecider(instances, mode, policy, partitions);
        }

        var limiters = instances.Select(i => i.LimiterFor(policy)).ToArray();
        return sequence =>
        {
            var instance = (int)(sequence % limiters.Length);
            var partition = partitions[(int)(sequence / limiters.Length % partitions.Length)];
            return limiters[instance].DecideAsync(partition, 1, cancellationToken);
        };
    }

    /// <summary>
    /// The host's floor under the strict limiter, measured with the same client, generator and instances: <c>script</c>
    /// sends the limiter's own script once per decision (EVALSHA, no coalescing, deadline, breaker or retry), <c>get</c>
    /// one GET of the same key, the cheapest keyed round trip. No limiter that makes one Redis call per decision can do
    /// better on this host than these rows; a strict row close to them is bounded by the host, not by the limiter.
    /// </summary>
    private static Decide FloorDecider(IReadOnlyList<LimiterInstance> instances, string mode, RateLimitPolicy policy, string[] partitions)
    {
        var databases = instances.Select(i => (i.Multiplexer ?? throw new InvalidOperationException("A limiter instance is not connected")).GetDatabase()).ToArray();
        var keys = partitions.Select(p => (RedisKey)RedisRateLimitScript.KeyOf(policy, p)).Select(k => new[] { k }).ToArray();
        var values = RedisRateLimitScript.Values(policy, [new BucketRequest(1, 1)], clientTimeMicroseconds: null);
        var limit = policy.Limit;
        return sequence =>
        {
            var database = databases[(int)(sequence % databases.Length)];
            var key = keys[(int)(sequence / databases.Length % keys.Length)];
            return mode == "get" ? GetAsync(database, key[0], limit) : ScriptAsync(database, key, values, limit);
        };

        static async ValueTask<RateLimitDecision> GetAsync(IDatabase database, RedisKey key, int limit)
        {
            await database.StringGetAsync(key).ConfigureAwait(false);
            return new RateLimitDecision(true, RateLimitDecisionSource.Redis, limit, null, null, TimeSpan.Zero);
        }

        static async ValueTask<RateLimitDecision> ScriptAsync(IDatabase database, RedisKey[] key, RedisValue[] values, int limit)
        {
            var result = await RedisRateLimitScript.EvaluateAsync(database, key, values, withSource: false).ConfigureAwait(false);
            return RateLimitDecision.From(RedisRateLimitScript.Parse(result, 0), RateLimitDecisionSource.Redis, limit);
        }
    }

    private static async Task<ThroughputRow> ThroughputAsync(
        RateLimitBenchOptions options, RedisUnderTest store, IReadOnlyList<LimiterInstance> instances, int round, string mode, int keys, CancellationToken cancellationToken)
    {
        var policy = Policy(options, $"bench-{mode}-{keys}-r{round}-{Guid.NewGuid():N}", mode);
        var partitions = keys == 1 ? [HotPartition] : Enumerable.Range(0, keys).Select(k => $"acme:u{k}").ToArray();
        var decide = Decider(instances, mode, policy, partitions, cancellationToken);
        var load = LoadAverage();

        var warmup = new DecisionTally();
        await DecisionLoad.ClosedAsync(decide, options.Copies, options.Warmup, warmup.Record, cancellationToken).ConfigureAwait(false);

        var callsBefore = await store.ScriptCallsAsync().ConfigureAwait(false);
        var closed = new DecisionTally();
        using var process = Process.GetCurrentProcess();
        var (cpuBefore, bytesBefore) = (process.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: true));
        var elapsed = await DecisionLoad.ClosedAsync(decide, options.Copies, options.Duration, closed.Record, cancellationToken).ConfigureAwait(false);
        process.Refresh();
        var closedCpu = (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / Math.Max(1, closed.Decisions);
        var closedBytes = (GC.GetTotalAllocatedBytes(precise: true) - bytesBefore) / (double)Math.Max(1, closed.Decisions);
        var saturation = closed.Decisions / elapsed.TotalSeconds;

        var open = new DecisionTally();
        var rate = Math.Clamp(Math.Floor(saturation * options.RateFraction), 1, options.MaxOpenRate);
        var limiters = instances.Select(i => i.LimiterFor(policy)).ToArray();
        var phases = options.Phases && mode == "strict" ? new PhaseTally() : null;
        foreach (var limiter in limiters)
        {
            limiter.PhaseTrace = phases is null ? null : phases.Record;
        }

        var sessions = phases is null ? [] : instances.Select(i => (Multiplexer: i.Multiplexer, Session: new StackExchange.Redis.Profiling.ProfilingSession())).ToArray();
        foreach (var (multiplexer, session) in sessions)
        {
            multiplexer?.RegisterProfiler(() => session);
        }

        var dispatcher = new DispatcherStats();
        var (gen0, gen1, gen2, paused, allocated) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());
        var openStarted = Stopwatch.GetTimestamp();
        var openDecisions = await DecisionLoad.OpenAsync(decide, rate, options.Duration, open.Record, cancellationToken, options.Generator, dispatcher, options.PaceMin).ConfigureAwait(false);
        var openElapsed = Stopwatch.GetElapsedTime(openStarted);
        var bursts = dispatcher.Bursts;
        var openStats = new OpenRunStats(
            bursts.TotalCount, bursts.GetValueAtPercentile(50), bursts.GetValueAtPercentile(99), bursts.GetMaxValue(),
            GC.CollectionCount(0) - gen0, GC.CollectionCount(1) - gen1, GC.CollectionCount(2) - gen2, (GC.GetTotalPauseDuration() - paused).TotalMilliseconds,
            (GC.GetTotalAllocatedBytes() - allocated) / (double)Math.Max(1, openDecisions),
            100 * (GC.GetTotalPauseDuration() - paused) / openElapsed,
            dispatcher.CpuNanoseconds < 0 ? double.NaN : 100.0 * dispatcher.CpuNanoseconds / (openElapsed.TotalSeconds * 1e9));
        foreach (var limiter in limiters)
        {
            limiter.PhaseTrace = null;
        }

        foreach (var (multiplexer, session) in sessions)
        {
            multiplexer?.RegisterProfiler(() => null);
            phases!.RecordProfiled(session.FinishProfiling());
        }

        var calls = await store.ScriptCallsAsync().ConfigureAwait(false) - callsBefore;

        var fallbacks = warmup.Fallbacks + closed.Fallbacks + open.Fallbacks;
        var reasons = string.Join("; ", new[] { ("warm-up", warmup), ("closed", closed), ("open", open) }
            .Where(p => p.Item2.Fallbacks > 0).Select(p => $"{p.Item1}: {p.Item2.FallbacksByReason()}"));
        return new ThroughputRow(
            round, store.Kind, instances.Count, mode, keys, load, options.Copies,
            saturation, closed.ServiceMicroseconds(50), closed.ServiceMicroseconds(99),
            rate, open.LatencyMicroseconds(50), open.LatencyMicroseconds(99), open.LatencyMicroseconds(99.9), open.MaxMicroseconds,
            open.LagMicroseconds(50), open.LagMicroseconds(99), open.ServiceMicroseconds(50), open.ServiceMicroseconds(99), open.ServiceMicroseconds(99.9),
            closed.Decisions + open.Decisions, calls, fallbacks, reasons.Length == 0 ? "0" : reasons,
            options.Generator, openStats, phases)
        {
            ClosedCpuMicrosecondsPerDecision = closedCpu,
            ClosedBytesPerDecision = closedBytes,
        };
    }

    private static async Task<BlackholeRow> BlackholeAsync(
        RateLimitBenchOptions options, RedisUnderTest store, IReadOnlyList<LimiterInstance> instances, int round, string mode, CancellationToken cancellationToken)
    {
        var policy = Policy(options, $"blackhole-{mode}-r{round}-{Guid.NewGuid():N}", mode);
        var decide = Decider(instances, mode, policy, [HotPartition], cancellationToken);
        var load = LoadAverage();
        var healthyFor = TimeSpan.FromSeconds(1);
        var healthy = new DecisionTally();
        var stopped = new DecisionTally();
        var after = new DecisionTally();
        long frozenAt = long.MaxValue, resumedAt = long.MaxValue, firstShared = long.MaxValue, lastFallback = long.MinValue;
        void Record(long intended, long sent, long answered, in RateLimitDecision decision)
        {
            if (intended < Volatile.Read(ref frozenAt))
            {
                healthy.Record(intended, sent, answered, decision);
            }
            else if (intended < Volatile.Read(ref resumedAt))
            {
                stopped.Record(intended, sent, answered, decision);
            }
            else
            {
                after.Record(intended, sent, answered, decision);
                if (decision.IsFallback)
                {
                    InterlockedMax(ref lastFallback, intended);
                }
                else
                {
                    InterlockedMin(ref firstShared, answered);
                }
            }
        }

        var total = healthyFor + options.Blackhole + options.AfterResume;
        var run = DecisionLoad.OpenAsync(decide, options.BlackholeRate, total, Record, cancellationToken);
        await Task.Delay(healthyFor, cancellationToken).ConfigureAwait(false);
        var resume = await store.FreezeAsync(RedisRateLimitScript.KeyOf(policy, HotPartition)).ConfigureAwait(false);
        Volatile.Write(ref frozenAt, Stopwatch.GetTimestamp());
        try
        {
            await Task.Delay(options.Blackhole, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            resume();
            Volatile.Write(ref resumedAt, Stopwatch.GetTimestamp());
        }

        await run.ConfigureAwait(false);
        double? Since(long timestamp) => timestamp is long.MaxValue or long.MinValue ? null : Math.Max(0, (timestamp - resumedAt) * 1000.0 / Stopwatch.Frequency);
        return new BlackholeRow(
            round, store.Kind, instances.Count, mode, load, policy.DecisionDeadline, options.BlackholeRate, options.Blackhole,
            healthy.Fallbacks, stopped.Decisions, stopped.LatencyMicroseconds(50), stopped.LatencyMicroseconds(99), stopped.LatencyMicroseconds(99.9), stopped.MaxMicroseconds,
            stopped.Fallbacks, stopped.FallbacksByReason(), after.Fallbacks, after.FallbacksByReason(),
            Since(firstShared), lastFallback == long.MinValue ? 0 : Since(lastFallback));
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, current) == current)
            {
                return;
            }
        }
    }

    private static void InterlockedMin(ref long target, long value)
    {
        for (var current = Volatile.Read(ref target); value < current; current = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>The 1-minute load average (Linux), recorded next to every row: the machine is shared.</summary>
    public static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }
}
