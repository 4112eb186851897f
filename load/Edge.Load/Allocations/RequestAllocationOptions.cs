using System.Globalization;

namespace Edge.Load.Allocations;

/// <summary>The options of <c>edge-load request-alloc</c>; defaults are the benchmark's, <see cref="Smoke"/> the CI check's.</summary>
internal sealed record RequestAllocationOptions
{
    public static readonly IReadOnlyList<string> AllTargets = ["direct", "yarp", "edge-tenant", "edge-lease", "edge-strict"];

    /// <summary>What to measure, in order; <c>direct</c> (client and backend alone) is what the proxy columns subtract.</summary>
    public IReadOnlyList<string> Targets { get; init; } = AllTargets;

    /// <summary>Requests before the first round: JIT, connection pools, the JWT and rate-limit caches warm up.</summary>
    public int Warmup { get; init; } = 2_000;

    /// <summary>Sequential requests per round.</summary>
    public int Requests { get; init; } = 2_000;

    /// <summary>Rounds per target; the report gives the median and the spread.</summary>
    public int Rounds { get; init; } = 5;

    public string? Out { get; init; }

    /// <summary>When above zero: after the measured rounds, one more sampled round per target lists its top types.</summary>
    public int Types { get; init; }

    public static RequestAllocationOptions Smoke { get; } = new() { Warmup = 20, Requests = 30, Rounds = 1 };

    /// <summary>Parses the command line; throws <see cref="FormatException"/> with the option's name on bad input.</summary>
    public static RequestAllocationOptions Parse(IReadOnlyList<string> args)
    {
        var options = args.Contains("--smoke") ? Smoke : new RequestAllocationOptions();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--smoke")
            {
                continue;
            }

            var value = i + 1 < args.Count ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            options = args[i - 1] switch
            {
                "--targets" => options with { Targets = ParseTargets(value) },
                "--warmup" => options with { Warmup = Count("--warmup", value, allowZero: true) },
                "--requests" => options with { Requests = Count("--requests", value, allowZero: false) },
                "--rounds" => options with { Rounds = Count("--rounds", value, allowZero: false) },
                "--out" => options with { Out = value },
                "--types" => options with { Types = Count("--types", value, allowZero: true) },
                var unknown => throw new FormatException($"unknown option '{unknown}'"),
            };
        }

        return options;
    }

    private static IReadOnlyList<string> ParseTargets(string value)
    {
        var targets = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var target in targets)
        {
            if (!AllTargets.Contains(target))
            {
                throw new FormatException($"--targets: '{target}' is not one of {string.Join(", ", AllTargets)}");
            }
        }

        return targets.Length > 0 ? targets : throw new FormatException("--targets is empty");
    }

    private static int Count(string name, string value, bool allowZero) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && (count > 0 || (allowZero && count == 0))
            ? count
            : throw new FormatException($"{name}: '{value}' is not a {(allowZero ? "non-negative" : "positive")} whole number");
}
