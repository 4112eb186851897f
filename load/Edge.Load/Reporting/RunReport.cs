using System.Globalization;
using Edge.Load.Thresholds;

namespace Edge.Load.Reporting;

/// <summary>The result of one load-test run: what every report format renders and what thresholds are checked against.</summary>
public sealed record RunReport
{
    public required string Title { get; init; }

    public required DateTimeOffset StartedUtc { get; init; }

    public required TimeSpan Duration { get; init; }

    public string? Target { get; init; }

    /// <summary>How long a request may take before it is a <c>timeout</c> failure; <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>The target and the per-request timeout, as the reports' first lines give them.</summary>
    public string TargetText
    {
        get
        {
            var timeout = RequestTimeout is not { } t ? null
                : t == Timeout.InfiniteTimeSpan ? "no per-request timeout"
                : string.Create(CultureInfo.InvariantCulture, $"per-request timeout {t.TotalSeconds:0.###} s");
            return string.Join("; ", new[] { Target, timeout }.Where(static p => p is not null));
        }
    }

    public required RunEnvironment Environment { get; init; }

    public required IReadOnlyList<ScenarioReport> Scenarios { get; init; }

    public IReadOnlyList<ThresholdResult> Thresholds { get; init; } = [];

    public bool AllThresholdsPassed => Thresholds.All(static t => t.Passed);

    /// <summary>
    /// Scenarios, or steps of a scenario, that ran to their end without one ok response (a dead or misrouted target, a
    /// wrong secret for one kind of request), one line each: they fail the run whatever the thresholds say.
    /// </summary>
    public IReadOnlyList<string> WithoutOk => [.. Scenarios.SelectMany(static s => s.WithoutOk)];

    /// <summary>
    /// Stopped before its end (Ctrl+C, SIGTERM): the reports and thresholds cover only the part that ran, which is not the
    /// run that was asked for, so it does not pass whatever its thresholds say (the CLI exits 130).
    /// </summary>
    public bool Interrupted => Scenarios.Any(static s => s.Cancelled);

    /// <summary>The reports' line for a stopped run.</summary>
    public const string InterruptedText = "stopped before the end; the numbers and thresholds cover only the part that ran, and requests in flight at the stop are failures with status 'cancelled'";

    /// <summary>Not stopped, every threshold passed and every scenario and step got ok responses: what a CI gate should check.</summary>
    public bool Passed => !Interrupted && AllThresholdsPassed && WithoutOk.Count == 0;
}

public sealed record ScenarioReport
{
    public required string Name { get; init; }

    /// <summary>The load simulations in order, as text.</summary>
    public required IReadOnlyList<string> Simulations { get; init; }

    /// <summary>The parameters the scenario's init read, "name=value" with "(default)" where none was given.</summary>
    public IReadOnlyList<string> Parameters { get; init; } = [];

    /// <summary>The parameters line of the reports.</summary>
    public string ParametersText => Parameters.Count == 0 ? "none" : string.Join(", ", Parameters);

    public required TimeSpan WarmUp { get; init; }

    /// <summary>
    /// Requests the uncounted warm-up sent. Not in any statistic, but the target served them: whoever divides a process's
    /// CPU time or allocations over the whole run by the requests needs them (a closed model's warm-up rate is unknown beforehand).
    /// </summary>
    public long WarmUpRequests { get; init; }

    /// <summary>
    /// Measured duration (warm-up excluded); RPS is computed over it. The simulations' length, or longer when responses
    /// still arrived after the load ended (up to the last ok one), or shorter when the run was cancelled.
    /// </summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>The simulations' own length (the load as asked for).</summary>
    public TimeSpan LoadDuration { get; init; }

    /// <summary>The measured-duration text of the reports, with the tail after the load when there was one.</summary>
    public string DurationText => Cancelled
        ? string.Create(CultureInfo.InvariantCulture, $"{Duration.TotalSeconds:0.###} s (cancelled)")
        : Duration > LoadDuration
            ? string.Create(CultureInfo.InvariantCulture, $"{Duration.TotalSeconds:0.###} s ({LoadDuration.TotalSeconds:0.###} s of load, then {(Duration - LoadDuration).TotalSeconds:0.###} s until the last ok response)")
            : string.Create(CultureInfo.InvariantCulture, $"{Duration.TotalSeconds:0.###} s");

    public bool Cancelled { get; init; }

    /// <summary>Invocations started in the measured part (warm-up excluded); every one is in exactly one ok or fail count.</summary>
    public long Sent { get; init; }

    /// <summary>Open model: invocations the simulations scheduled; null for a closed model, which has no schedule.</summary>
    public long? Scheduled { get; init; }

    /// <summary>
    /// Below this share of the offered rate the reports say the offered rate was not achieved. Not 100%: on a target
    /// that keeps up, the ok rate is already a little below the offered one (the last response lands one latency after
    /// the last send, and the measured duration includes it).
    /// </summary>
    public const double AchievedShare = 0.95;

    /// <summary>Open model: the rate the simulations asked for (scheduled invocations over the load's length, pauses included).</summary>
    public double? OfferedRps => Scheduled is { } scheduled && LoadDuration > TimeSpan.Zero ? scheduled / LoadDuration.TotalSeconds : null;

    /// <summary>Open model: ok responses per second as a share of the offered rate (1 = all of it).</summary>
    public double? AchievedShareOfOffered => OfferedRps is { } offered && offered > 0 ? Global.Ok.Rps / offered : null;

    /// <summary>Open model, not cancelled: the target served less than <see cref="AchievedShare"/> of the offered rate as ok responses.</summary>
    public bool OfferedRateMissed => !Cancelled && AchievedShareOfOffered < AchievedShare;

    /// <summary>The offered-versus-served line of the reports: management reads "ok-rps 47.7" as a result unless it says it was asked for 100.</summary>
    public string OfferedText
    {
        get
        {
            if (OfferedRps is not { } offered || AchievedShareOfOffered is not { } share)
            {
                return string.Create(CultureInfo.InvariantCulture, $"closed model, {Sent} requests sent: the target sets the pace, there is no offered rate");
            }

            var text = string.Create(CultureInfo.InvariantCulture,
                $"offered {Formatting.Rate(offered)}/s ({Scheduled} scheduled, {Sent} sent); served {Formatting.Rate(Global.Ok.Rps)} ok/s, {share * 100:0.0}% of the offered rate");
            return OfferedRateMissed
                ? text + string.Create(CultureInfo.InvariantCulture, $": offered rate NOT achieved ({(1 - share) * 100:0.0}% short)")
                : text;
        }
    }

    /// <summary>The HTTP version every request asked for: "HTTP/1.1", or "HTTP/2" with <c>--http2</c>.</summary>
    public string RequestedProtocol { get; init; } = ProtocolNames.Http11;

    /// <summary>How HTTP/2 was asked for ("h2c, prior knowledge" or ALPN); null for HTTP/1.1.</summary>
    public string? ProtocolNegotiation { get; init; }

    /// <summary>Responses by the HTTP version they came back on (every sub-step's, or the invocation's when it has none), most first.</summary>
    public IReadOnlyList<ProtocolCount> Protocols { get; init; } = [];

    /// <summary>Responses that came back on another version than <see cref="RequestedProtocol"/> (an https server without h2 answers HTTP/1.1).</summary>
    public long OtherProtocolResponses => Protocols.Where(p => p.Protocol != RequestedProtocol).Sum(static p => p.Count);

    /// <summary>The protocol line of the reports: what was asked for and what the responses came back on.</summary>
    public string ProtocolText
    {
        get
        {
            var asked = ProtocolNegotiation is null ? RequestedProtocol + " requested" : $"{RequestedProtocol} requested ({ProtocolNegotiation})";
            var responses = Protocols.Count == 0 ? "none with an HTTP version" : string.Join(", ", Protocols.Select(static p => string.Create(CultureInfo.InvariantCulture, $"{p.Protocol}: {p.Count}")));
            var other = OtherProtocolResponses;
            return $"{asked}; responses: {responses}" + (other > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {other} on another version than asked") : "");
        }
    }

    /// <summary>The whole scenario first (step name "global"), then each sub-step.</summary>
    public required IReadOnlyList<StepReport> Steps { get; init; }

    public required IReadOnlyList<TimeSeriesPoint> TimeSeries { get; init; }

    /// <summary>Largest delay between an open-model invocation's intended send time and its start (the dispatcher's lateness plus the thread pool's queue); large values mean the generator was the bottleneck.</summary>
    public TimeSpan? MaxDispatchLag { get; init; }

    /// <summary>Open-model dispatches more than 10 ms late; null, like <see cref="MaxDispatchLag"/>, for a closed model, which has no schedule to be late for.</summary>
    public long? LateDispatches { get; init; }

    /// <summary>
    /// What the latencies are measured from. A closed model's read like an open model's unless the report says so: its
    /// copies send nothing while they wait, so a 3 s stall showed in two requests and a p75 of 45 ms (coordinated omission).
    /// </summary>
    public string LatencyText => Scheduled is null
        ? "from each request's own start (closed model): a copy waiting on a slow response sends nothing meanwhile, so a stall shows in the few requests it held, not in those it kept from being sent (coordinated omission); measure latency with an inject phase"
        : "from each request's intended send time (open model): waits for the target, a connection or the generator are in the numbers";

    /// <summary>
    /// From this share of late dispatches on (more than 10 ms after their intended time) the reports say the generator fell
    /// behind: the late ones are then enough to move the p99, and their lateness is in the latencies charged to the target.
    /// </summary>
    public const double LateDispatchShare = 0.01;

    /// <summary>Open model: at least <see cref="LateDispatchShare"/> of the invocations sent started more than 10 ms late.</summary>
    public bool GeneratorFellBehind => LateDispatches is { } late && Sent > 0 && late >= Sent * LateDispatchShare;

    /// <summary>The generator line of the reports.</summary>
    public string GeneratorText => MaxDispatchLag is { } lag
        ? string.Create(CultureInfo.InvariantCulture, $"max dispatch lag {lag.TotalMilliseconds:0.###} ms, {LateDispatches} dispatches more than 10 ms late")
            + (GeneratorFellBehind
                ? string.Create(CultureInfo.InvariantCulture, $" ({100.0 * LateDispatches / Sent:0.0}% of {Sent} sent): the generator fell behind, and the latencies include its lag")
                : "")
        : "closed model, no send schedule (dispatch lag applies to inject phases only)";

    public StepReport Global => Steps[0];

    /// <summary>
    /// Not cancelled (a stopped run is reported as interrupted instead) and not one ok response: the whole scenario, or
    /// else each sub-step that was called and never answered ok (in a mixed profile the other steps hide it otherwise).
    /// </summary>
    public IReadOnlyList<string> WithoutOk =>
        Cancelled ? []
        : Global.Ok.Count == 0 ? [Reason(Name, Global)]
        : [.. Steps.Skip(1).Where(static s => s.Requests > 0 && s.Ok.Count == 0).Select(s => Reason(Name + "/" + s.Name, s))];

    private static string Reason(string name, StepReport step)
    {
        var top = step.Fail.StatusCodes.Count == 0 ? null : step.Fail.StatusCodes[0];
        return top is null
            ? $"{name}: no ok responses (no requests completed)"
            : string.Create(CultureInfo.InvariantCulture, $"{name}: no ok responses ({step.Fail.Count} failed, most often {top.StatusCode}: {top.Count})");
    }

    public StepReport? Step(string name) => Steps.FirstOrDefault(s => s.Name == name);
}

public sealed record StepReport
{
    public required string Name { get; init; }

    public required OutcomeReport Ok { get; init; }

    public required OutcomeReport Fail { get; init; }

    public long Requests => Ok.Count + Fail.Count;

    public double FailPercent => Requests == 0 ? 0 : 100.0 * Fail.Count / Requests;
}

/// <summary>Statistics of one outcome; latencies in milliseconds, null when <see cref="Count"/> is 0 (nothing was measured, which is not 0 ms).</summary>
public sealed record OutcomeReport
{
    public required long Count { get; init; }

    public required double Rps { get; init; }

    public required double? MinMs { get; init; }

    public required double? MeanMs { get; init; }

    public required double? MaxMs { get; init; }

    public required double? StdDevMs { get; init; }

    public required double? P50Ms { get; init; }

    public required double? P75Ms { get; init; }

    public required double? P95Ms { get; init; }

    public required double? P99Ms { get; init; }

    /// <summary>p99.9: the tail a p99 hides (one request in a thousand); meaningful from a few thousand ok responses on.</summary>
    public double? P999Ms { get; init; }

    public required long Bytes { get; init; }

    public required IReadOnlyList<StatusCodeCount> StatusCodes { get; init; }
}

public sealed record StatusCodeCount(string StatusCode, long Count);

public sealed record ProtocolCount(string Protocol, long Count);

/// <summary>HTTP versions as the reports name them.</summary>
public static class ProtocolNames
{
    public const string Http11 = "HTTP/1.1";

    public const string Http2 = "HTTP/2";

    public static string Of(Version version) => version.Major switch
    {
        1 => "HTTP/1." + version.Minor.ToString(CultureInfo.InvariantCulture),
        _ => "HTTP/" + version.Major.ToString(CultureInfo.InvariantCulture),
    };
}

public sealed record TimeSeriesPoint
{
    public required double ElapsedSeconds { get; init; }

    public required long OkCount { get; init; }

    public required long FailCount { get; init; }

    public required double OkRps { get; init; }

    public required double FailRps { get; init; }

    public required double? P50Ms { get; init; }

    public required double? P99Ms { get; init; }

    public required double? MaxMs { get; init; }

    public required long InFlight { get; init; }
}
