using System.Globalization;
using Edge.Load.Simulations;

namespace Edge.Load.RateLimits;

/// <summary>The options of <c>edge-load ratelimit</c>; defaults are the benchmark's, <see cref="Smoke"/> the CI check's.</summary>
internal sealed record RateLimitBenchOptions
{
    /// <summary><c>single</c> and/or <c>cluster</c> (started by the harness); ignored with <see cref="Connect"/>.</summary>
    public IReadOnlyList<string> Redis { get; init; } = ["single", "cluster"];

    /// <summary>An existing Redis (one server or cluster nodes, comma-separated) instead of starting one.</summary>
    public string? Connect { get; init; }

    /// <summary>The pid of <see cref="Connect"/>'s redis-server, the only process the blackhole phase may SIGSTOP.</summary>
    public int? RedisPid { get; init; }

    /// <summary>Limiter instances (each with its own connection, as separate edge processes); decisions alternate between them.</summary>
    public int Instances { get; init; } = 2;

    public IReadOnlyList<string> Modes { get; init; } = ["strict", "lease"];

    /// <summary>Distinct partitions per row: 1 is one hot key.</summary>
    public IReadOnlyList<int> Keys { get; init; } = [1, 10_000];

    /// <summary>Closed-model callers (the saturation run).</summary>
    public int Copies { get; init; } = 32;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The open-model rate as a fraction of the row's measured saturation rate (the goal is at 0.8).</summary>
    public double RateFraction { get; init; } = 0.8;

    /// <summary>
    /// The most decisions per second the open model starts: one dispatcher thread cannot start a lease's 80% of
    /// several hundred thousand per second on a shared host, and a rate it cannot start would measure the dispatcher.
    /// </summary>
    public double MaxOpenRate { get; init; } = 50_000;

    /// <summary>The policy's DecisionDeadline; null keeps the edge's default.</summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>How long the blackhole phase keeps Redis SIGSTOPped; zero skips the phase.</summary>
    public TimeSpan Blackhole { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The fixed rate of the blackhole phase (decisions per second over all instances).</summary>
    public double BlackholeRate { get; init; } = 1000;

    /// <summary>How long the blackhole phase keeps going after SIGCONT, to see shared limiting resume.</summary>
    public TimeSpan AfterResume { get; init; } = TimeSpan.FromSeconds(3);

    public int Rounds { get; init; } = 2;

    /// <summary>How the open model's dispatcher waits (<see cref="DecisionLoad.OpenAsync"/>).</summary>
    public Generator Generator { get; init; } = Generator.Paced;

    /// <summary>
    /// The paced dispatcher's shortest sleep. Every wake-up costs the dispatcher CPU that the limiter and Redis then
    /// lack; a longer sleep means bursts of up to rate × this. Measured (Run G, single Redis, load 45-53, dispatcher
    /// thread CPU including the decisions' synchronous part): no minimum 12-41% of a core and 1 decision per wake-up
    /// at p50; 100 µs 5-16% and 2-4; the old 1 ms sleep 7.5-14% and 7-14.
    /// </summary>
    public TimeSpan PaceMin { get; init; } = TimeSpan.FromMicroseconds(100);

    /// <summary>Trace where each strict decision of the open model spent its time (the limiter's debug switch; costs a little).</summary>
    public bool Phases { get; init; }

    public string? Out { get; init; }

    public static RateLimitBenchOptions Smoke { get; } = new()
    {
        Redis = ["single"],
        Keys = [1, 100],
        Copies = 8,
        Duration = TimeSpan.FromMilliseconds(500),
        Warmup = TimeSpan.FromMilliseconds(200),
        MaxOpenRate = 5000,
        // Long enough that a lease cannot cover it: 250 decisions per instance at this rate against leases of at most
        // 100 permits (LeaseMaxBatch), so the lease row must meet the frozen server too. At 500 ms, a loaded host
        // (load 20+) sometimes spent the window from one lease, and the smoke saw no fallback.
        Blackhole = TimeSpan.FromSeconds(1),
        BlackholeRate = 500,
        AfterResume = TimeSpan.FromSeconds(1.5),
        Rounds = 1,
    };

    /// <summary>Parses the command line; throws <see cref="FormatException"/> with the option's name on bad input.</summary>
    public static RateLimitBenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = args.Contains("--smoke") ? Smoke : new RateLimitBenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--smoke")
            {
                continue;
            }

            var name = args[i];
            var value = i + 1 < args.Count ? args[++i] : throw new FormatException($"{name} needs a value");
            options = name switch
            {
                "--redis" => options with { Redis = List(name, value, v => v is "single" or "cluster" ? v : throw new FormatException($"--redis: '{v}' is not single or cluster")) },
                "--redis-connect" => options with { Connect = value },
                "--redis-pid" => options with { RedisPid = Positive(name, value) },
                "--instances" => options with { Instances = Positive(name, value) },
                "--modes" => options with { Modes = List(name, value, v => v is "strict" or "lease" or "script" or "get" ? v : throw new FormatException($"--modes: '{v}' is not strict, lease, script or get")) },
                "--keys" => options with { Keys = List(name, value, v => Positive(name, v)) },
                "--copies" => options with { Copies = Positive(name, value) },
                "--duration" => options with { Duration = PositiveDuration(name, value) },
                "--warmup" => options with { Warmup = DurationParser.Parse(value) },
                "--rate-fraction" => options with { RateFraction = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && f > 0 && f <= 1 ? f : throw new FormatException($"{name}: '{value}' is not in (0, 1]") },
                "--max-rate" => options with { MaxOpenRate = Positive(name, value) },
                "--deadline" => options with { Deadline = PositiveDuration(name, value) },
                // The usage text says "--blackhole 0 skips it": a bare 0 is a duration here.
                "--blackhole" => options with { Blackhole = value.Trim() == "0" ? TimeSpan.Zero : DurationParser.Parse(value) },
                "--blackhole-rate" => options with { BlackholeRate = Positive(name, value) },
                "--after-resume" => options with { AfterResume = PositiveDuration(name, value) },
                "--rounds" => options with { Rounds = Positive(name, value) },
                "--generator" => options with { Generator = value switch { "paced" => Generator.Paced, "sleep1" => Generator.Sleep1, _ => throw new FormatException($"{name}: '{value}' is not paced or sleep1") } },
                "--pace-min" => options with { PaceMin = DurationParser.Parse(value) },
                "--phases" => options with { Phases = value switch { "on" => true, "off" => false, _ => throw new FormatException($"{name}: '{value}' is not on or off") } },
                "--out" => options with { Out = value },
                _ => throw new FormatException($"unknown option '{name}'"),
            };
        }

        if (options.RedisPid is not null && options.Connect is null)
        {
            throw new FormatException("--redis-pid needs --redis-connect");
        }

        return options;
    }

    private static IReadOnlyList<T> List<T>(string name, string value, Func<string, T> parse)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();
        return items.Length > 0 ? items : throw new FormatException($"{name} needs at least one value");
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"{name}: '{value}' is not a positive number");

    private static TimeSpan PositiveDuration(string name, string value)
    {
        var parsed = DurationParser.Parse(value);
        return parsed > TimeSpan.Zero ? parsed : throw new FormatException($"{name}: '{value}' must be more than zero");
    }
}
