using System.Globalization;
using System.Text;

namespace Edge.Load.RateLimits;

/// <summary>The markdown of <c>edge-load ratelimit</c>: every row as measured (one per round), nothing averaged away.</summary>
internal static class RateLimitBenchReport
{
    public static string Line(ThroughputRow r) => Invariant(
        $"round {r.Round} {r.Redis} x{r.Instances} {r.Mode} keys={r.Keys} load={r.LoadAverage:F1}: {r.Saturation:F0} decisions/s ({r.ClosedCpuMicrosecondsPerDecision:F1} µs CPU and {r.ClosedBytesPerDecision:F0} B per decision); at {r.OpenRate:F0}/s p50 {r.P50:F0} µs p99 {r.P99:F0} µs p99.9 {r.P999:F0} µs = generator lag p50 {r.LagP50:F0} p99 {r.LagP99:F0} µs + decision p50 {r.ServiceP50:F0} p99 {r.ServiceP99:F0} p99.9 {r.ServiceP999:F0} µs; {r.CallsPerDecision:F3} calls/decision; fallbacks {r.FallbackReasons}; {r.Generator} bursts p50 {r.OpenStats.BurstP50:F0} p99 {r.OpenStats.BurstP99:F0} max {r.OpenStats.BurstMax:F0}, dispatcher CPU {r.OpenStats.DispatcherCpuPercent:F1}% of a core; GC {r.OpenStats.Gen0}/{r.OpenStats.Gen1}/{r.OpenStats.Gen2} {r.OpenStats.GcPauseMs:F1} ms ({r.OpenStats.GcPausePercent:F1}% of the time), {r.OpenStats.AllocatedBytesPerDecision:F0} B/decision{PhaseLine(r.Phases)}");

    private static string PhaseLine(PhaseTally? p) => p is null ? "" : Invariant(
        $"; phases p50/p99 µs: coalescing {p.Percentiles(p.Coalescing)}, redis {p.Percentiles(p.Redis)}, reader hop {p.Percentiles(p.ReaderHop)}, handout {p.Percentiles(p.Handout)}, caller hop {p.Percentiles(p.CallerHop)}, batch {p.BatchSize.GetValueAtPercentile(50)}/{p.BatchSize.GetValueAtPercentile(99)}, read on reader {p.ReadOnReader}/{p.Traced}, unseen {p.ReadUnseen}; client profiler p50/p99 µs: writer queue {p.Percentiles(p.ClientWriterQueue)}, sent→response {p.Percentiles(p.ClientSentToResponse)}, response→completion {p.Percentiles(p.ClientResponseToCompletion)} ({p.ProfiledCommands} calls)");

    public static string Line(BlackholeRow b) => Invariant(
        $"round {b.Round} {b.Redis} x{b.Instances} {b.Mode} blackhole {b.Stopped.TotalSeconds:F1} s load={b.LoadAverage:F1}: {b.StopDecisions} decisions, p99 {b.StopP99 / 1000:F1} ms (deadline {b.Deadline.TotalMilliseconds:F0} ms), fallbacks {b.StopFallbackReasons}; after SIGCONT {b.AfterFallbackReasons}, shared again {Ms(b.LastFallbackAfterResumeMs)}");

    public static string Markdown(RateLimitBenchOptions options, IReadOnlyList<ThroughputRow> rows, IReadOnlyList<BlackholeRow> blackholes, DateTimeOffset started, DateTimeOffset finished)
    {
        var md = new StringBuilder();
        md.AppendLine("# edge-load ratelimit: decision-only throughput and latency").AppendLine();
        md.AppendLine(Invariant($"{started:yyyy-MM-dd HH:mm}-{finished:HH:mm} UTC, {Environment.ProcessorCount} cores, {options.Rounds} round(s), {options.Instances} limiter instance(s) (each its own Redis connection, decisions alternate), closed model {options.Copies} copies for {options.Duration.TotalSeconds:F1} s (after {options.Warmup.TotalSeconds:F1} s warm-up), open model at {options.RateFraction:P0} of that row's saturation (at most {options.MaxOpenRate:F0}/s, marked cap) for {options.Duration.TotalSeconds:F1} s."));
        md.AppendLine();
        md.AppendLine("Latency of the open model counts from each decision's intended start (corrected for coordinated omission); the open model's generator lag (intended start → the decision call starts, the generator's own delay) and decision time (call start → result, the limiter's own latency including its thread-pool hops) are recorded per decision and reported separately. Calls per decision: server `INFO commandstats` (EVALSHA + EVAL, summed over every master) over the measured phases / decisions. Fallbacks include the warm-up, by phase (warm-up, closed, open) and reason; they must be 0 while Redis is healthy.").AppendLine();
        md.AppendLine("| round | redis | mode | keys | load avg | decisions/s (closed, saturation) | closed p50 / p99 µs | closed: harness CPU µs / allocated B per decision | open rate/s | p50 µs | p99 µs | p99.9 µs | max µs | generator lag p50 / p99 µs | decision p50 / p99 / p99.9 µs | Redis calls/decision | fallbacks | generator: bursts p50 / p99 / max, dispatcher CPU % of a core | GC gen0/1/2, pause ms (% of the open phase) | allocated B/decision |");
        md.AppendLine("|---:|---|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---|---|---:|---|---|---|---:|");
        foreach (var r in rows)
        {
            md.AppendLine(Invariant($"| {r.Round} | {r.Redis} | {r.Mode} | {r.Keys} | {r.LoadAverage:F1} | {r.Saturation:F0} | {Us(r.ClosedP50)} / {Us(r.ClosedP99)} | {r.ClosedCpuMicrosecondsPerDecision:F1} / {r.ClosedBytesPerDecision:F0} | {r.OpenRate:F0}{(r.OpenRate >= options.MaxOpenRate ? " (cap)" : "")} | {Us(r.P50)} | {Us(r.P99)} | {Us(r.P999)} | {Us(r.Max)} | {Us(r.LagP50)} / {Us(r.LagP99)} | {Us(r.ServiceP50)} / {Us(r.ServiceP99)} / {Us(r.ServiceP999)} | {r.CallsPerDecision:F3} | {r.FallbackReasons} | {r.Generator}: {r.OpenStats.BurstP50:F0} / {r.OpenStats.BurstP99:F0} / {r.OpenStats.BurstMax:F0}, {r.OpenStats.DispatcherCpuPercent:F1}% | {r.OpenStats.Gen0}/{r.OpenStats.Gen1}/{r.OpenStats.Gen2}, {r.OpenStats.GcPauseMs:F1} ({r.OpenStats.GcPausePercent:F1}%) | {r.OpenStats.AllocatedBytesPerDecision:F0} |"));
        }

        if (rows.Any(r => r.Phases is not null))
        {
            md.AppendLine();
            md.AppendLine("Phases of the open model's strict decisions (`--phases on`, the limiter's debug switch), p50 / p99 µs: coalescing = arrival → the key's script call handed to the client (waiting for the call in flight, then building it); redis = → the client completed the command (its writer, the wire, redis-server, its reader); reader hop = → the limiter's continuation ran; handout = → this decision's result set; caller hop = → the decision's caller continued. \"read on reader\": decisions whose answer was seen on the client's reader thread, not a pool thread; \"unseen\": the limiter resumed before that continuation ran (redis then includes the hop).").AppendLine();
            md.AppendLine("| round | redis | keys | load avg | decision p50 / p99 µs | coalescing | redis | reader hop | handout | caller hop | batch size p50 / p99 | read on reader | unseen | client: writer queue | client: sent → response | client: response → completion |");
            md.AppendLine("|---:|---|---:|---:|---|---|---|---|---|---|---|---:|---:|---|---|---|");
            foreach (var r in rows.Where(r => r.Phases is not null))
            {
                var p = r.Phases!;
                md.AppendLine(Invariant($"| {r.Round} | {r.Redis} | {r.Keys} | {r.LoadAverage:F1} | {Us(r.ServiceP50)} / {Us(r.ServiceP99)} | {p.Percentiles(p.Coalescing)} | {p.Percentiles(p.Redis)} | {p.Percentiles(p.ReaderHop)} | {p.Percentiles(p.Handout)} | {p.Percentiles(p.CallerHop)} | {p.BatchSize.GetValueAtPercentile(50)} / {p.BatchSize.GetValueAtPercentile(99)} | {p.ReadOnReader} of {p.Traced} | {p.ReadUnseen} | {p.Percentiles(p.ClientWriterQueue)} | {p.Percentiles(p.ClientSentToResponse)} | {p.Percentiles(p.ClientResponseToCompletion)} |"));
            }
        }

        if (blackholes.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Blackhole: one hot key at a fixed rate; after 1 s the redis-server (on a cluster: the key's master) is SIGSTOPped for the given time, then SIGCONTed. Latencies are of the decisions whose intended start fell into the stop (\"before stop\" counts those started earlier, including calls in flight when SIGSTOP came); \"shared again\" is when the last fallback after SIGCONT started (0: none after SIGCONT), \"first shared\" when the first decision after SIGCONT was answered without the outage mode.").AppendLine();
            md.AppendLine("| round | redis | mode | load avg | deadline ms | rate/s | stopped s | decisions in stop | p50 ms | p99 ms | p99.9 ms | max ms | p99 ≤ 2× deadline | fallbacks in stop | after SIGCONT | first shared ms | shared again ms | fallbacks before stop |");
            md.AppendLine("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|");
            foreach (var b in blackholes)
            {
                md.AppendLine(Invariant($"| {b.Round} | {b.Redis} | {b.Mode} | {b.LoadAverage:F1} | {b.Deadline.TotalMilliseconds:F0} | {b.Rate:F0} | {b.Stopped.TotalSeconds:F1} | {b.StopDecisions} | {b.StopP50 / 1000:F2} | {b.StopP99 / 1000:F1} | {b.StopP999 / 1000:F1} | {b.StopMax / 1000:F1} | {(b.WithinTwiceDeadline ? "yes" : "no")} | {b.StopFallbackReasons} | {b.AfterFallbackReasons} | {Ms(b.FirstSharedAfterResumeMs)} | {Ms(b.LastFallbackAfterResumeMs)} | {b.HealthyFallbacks} |"));
            }
        }

        return md.ToString();
    }

    private static string Us(double value) => value.ToString(value < 10 ? "F1" : "F0", CultureInfo.InvariantCulture);

    private static string Ms(double? value) => value is { } v ? v.ToString("F0", CultureInfo.InvariantCulture) : "not within the run";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
