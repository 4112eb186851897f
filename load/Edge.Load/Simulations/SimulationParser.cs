using System.Globalization;

namespace Edge.Load.Simulations;

/// <summary>
/// Parses the CLI form of a simulation: <c>inject:rate=500,interval=1s,during=10s</c>,
/// <c>ramp-inject:rate=1000,during=30s</c>, <c>constant:copies=50,during=10s</c>,
/// <c>ramp-constant:copies=100,during=30s</c>, <c>pause:5s</c>.
/// </summary>
public static class SimulationParser
{
    /// <summary>The highest open-model rate a phase may ask for, per scenario.</summary>
    public const int MaxRatePerSecond = 200_000;

    /// <summary>The most closed-model copies a phase may ask for, per scenario.</summary>
    public const int MaxCopies = 100_000;

    public static LoadSimulation Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var rest = colon < 0 ? "" : text[(colon + 1)..];

        if (kind == "pause")
        {
            var value = rest.StartsWith("during=", StringComparison.OrdinalIgnoreCase) ? rest["during=".Length..] : rest;
            return Simulation.Pause(DurationParser.Parse(value));
        }

        var args = ParseArguments(text, rest);
        string[] keys = kind switch
        {
            "inject" or "ramp-inject" or "ramping-inject" => ["rate", "interval", "during"],
            "constant" or "keep-constant" or "ramp-constant" or "ramping-constant" => ["copies", "during"],
            _ => throw new FormatException($"'{text}': unknown simulation '{kind}' (inject, ramp-inject, constant, ramp-constant, pause)."),
        };
        if (args.Keys.FirstOrDefault(k => !keys.Contains(k, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw new FormatException($"'{text}': unknown key '{unknown}' ({kind} takes {string.Join(", ", keys)}).");
        }

        var during = DurationParser.Parse(Required(args, "during", text));
        var interval = args.TryGetValue("interval", out var i) ? DurationParser.Parse(i) : TimeSpan.FromSeconds(1);
        if (interval <= TimeSpan.Zero)
        {
            throw new FormatException($"'{text}': interval must be positive.");
        }

        LoadSimulation simulation = kind switch
        {
            "inject" => Simulation.Inject(PositiveInt(args, "rate", text), interval, during),
            "ramp-inject" or "ramping-inject" => Simulation.RampingInject(PositiveInt(args, "rate", text, allowZero: true), interval, during),
            "constant" or "keep-constant" => Simulation.KeepConstant(PositiveInt(args, "copies", text), during),
            "ramp-constant" or "ramping-constant" => Simulation.RampingConstant(PositiveInt(args, "copies", text, allowZero: true), during),
            _ => throw new InvalidOperationException("unreachable: the kind was checked above"),
        };

        if (during <= TimeSpan.Zero)
        {
            throw new FormatException($"'{text}': during must be positive.");
        }

        // The dispatcher queues every invocation it is behind on, so a rate no generator can start (rate=100000000)
        // filled memory until the process died with "Out of memory" instead of measuring anything.
        var perSecond = simulation switch
        {
            InjectSimulation s => s.RatePerSecond,
            RampingInjectSimulation s => s.RatePerSecond,
            _ => 0,
        };
        if (perSecond > MaxRatePerSecond)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"'{text}': {perSecond:0.##} invocations per second is more than one edge-load process can start (at most {MaxRatePerSecond}/s); split the load over several processes."));
        }

        // Every copy is started at once and none is ever turned away: constant:copies=2147483647 died with "Out of
        // memory." and ramp-constant:copies=100000000 spent minutes starting copies in a one-second phase.
        var copies = simulation switch
        {
            KeepConstantSimulation s => s.Copies,
            RampingConstantSimulation s => s.Copies,
            _ => 0,
        };
        if (copies > MaxCopies)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"'{text}': {copies} copies is more than one edge-load process can run (at most {MaxCopies}); split the load over several processes."));
        }

        return simulation;
    }

    private static Dictionary<string, string> ParseArguments(string text, string rest)
    {
        var args = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in rest.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"'{text}': expected key=value, got '{part}'.");
            }

            if (!args.TryAdd(part[..eq].Trim(), part[(eq + 1)..].Trim()))
            {
                throw new FormatException($"'{text}': '{part[..eq].Trim()}' is given twice.");
            }
        }

        return args;
    }

    private static string Required(Dictionary<string, string> args, string key, string text) =>
        args.TryGetValue(key, out var value) ? value : throw new FormatException($"'{text}': missing '{key}='.");

    private static int PositiveInt(Dictionary<string, string> args, string key, string text, bool allowZero = false)
    {
        var raw = Required(args, key, text);
        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0 || (value == 0 && !allowZero))
        {
            throw new FormatException($"'{text}': {key} must be a positive integer, got '{raw}'.");
        }

        return value;
    }
}
