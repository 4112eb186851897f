using Edge.Load.Simulations;
using Edge.Load.Thresholds;

namespace Edge.Load.Cli;

/// <summary>The parsed arguments of <c>edge-load run</c>.</summary>
internal sealed record RunArguments
{
    public List<string> Scenarios { get; } = [];

    public Uri? Target { get; set; }

    public List<LoadSimulation> Simulations { get; } = [];

    public TimeSpan WarmUp { get; set; }

    public string? ReportFolder { get; set; }

    public List<Threshold> Thresholds { get; } = [];

    public Dictionary<string, string> Parameters { get; } = new(StringComparer.OrdinalIgnoreCase);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public bool Quiet { get; set; }

    /// <summary>--http2: every request asks for HTTP/2 (h2c with prior knowledge on http://, ALPN on https://).</summary>
    public bool Http2 { get; set; }

    /// <summary>A per-request timeout longer than a day is a typo, and the HTTP stack cannot take one above ~24.8 days.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(24);

    /// <summary>A base URL whose path is "/" with no query or fragment: what the scenarios' absolute paths are resolved against.</summary>
    internal static bool HasNoPath(Uri uri) => uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0;

    /// <summary>A duration option's value; the error names the option ("'1x' is not a duration" did not say which one).</summary>
    private static TimeSpan Duration(string option, string value) =>
        DurationParser.TryParse(value, out var duration)
            ? duration
            : throw new FormatException($"{option} '{value}' is not a duration (use e.g. 500ms, 10s, 2m, 1h or 00:00:10).");

    public static RunArguments Parse(IReadOnlyList<string> args)
    {
        var result = new RunArguments();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new FormatException($"{name} needs a value.");
                }

                return args[++i];
            }

            switch (name)
            {
                case "--scenario" or "-s":
                    result.Scenarios.Add(Value());
                    break;
                case "--target" or "-t":
                    var target = Value();
                    result.Target = Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                        ? uri
                        : throw new FormatException($"--target '{target}' is not an http(s) URL.");

                    // Scenarios send absolute paths (path=/orders/1), which replace a target's path: --target
                    // http://host/api loaded http://host/orders/1 while the report named http://host/api.
                    if (!HasNoPath(uri))
                    {
                        throw new FormatException($"--target '{target}' has a path, query or fragment, which requests would not use: give only scheme://host:port and the path with --param path=.");
                    }

                    break;
                case "--simulation":
                    result.Simulations.Add(SimulationParser.Parse(Value()));
                    break;
                case "--warmup" or "--warm-up":
                    result.WarmUp = Duration(name, Value());
                    break;
                case "--report-folder" or "-o":
                    result.ReportFolder = Value();
                    break;
                case "--threshold":
                    result.Thresholds.Add(Threshold.Parse(Value()));
                    break;
                case "--thresholds-file":
                    var file = Value();
                    try
                    {
                        result.Thresholds.AddRange(ThresholdFile.Load(file));
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        // "Could not find file '/x'." did not say which option named the file.
                        throw new FormatException($"--thresholds-file '{file}' cannot be read: {ex.Message}", ex);
                    }

                    break;
                case "--param" or "-p":
                    var pair = Value();
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new FormatException($"--param '{pair}' is not key=value.");
                    }

                    result.Parameters[pair[..eq]] = pair[(eq + 1)..];
                    break;
                case "--timeout":
                    result.Timeout = Duration(name, Value());
                    if (result.Timeout <= TimeSpan.Zero)
                    {
                        throw new FormatException("--timeout must be positive.");
                    }

                    // HttpClient.Timeout and CancelAfter stop at about 24.8 days; above that the run failed (exit 3) with
                    // the framework's ArgumentOutOfRangeException text instead of naming the option.
                    if (result.Timeout > MaxTimeout)
                    {
                        throw new FormatException($"--timeout must be at most {MaxTimeout.TotalHours:0}h, got '{args[i]}'.");
                    }

                    break;
                case "--quiet" or "-q":
                    result.Quiet = true;
                    break;
                case "--http2":
                    result.Http2 = true;
                    break;
                default:
                    throw new FormatException($"Unknown option '{name}'. Run 'edge-load help'.");
            }
        }

        if (result.Scenarios.Count == 0)
        {
            throw new FormatException("--scenario is required (see 'edge-load list').");
        }

        if (result.Scenarios.GroupBy(static s => s, StringComparer.OrdinalIgnoreCase).FirstOrDefault(static g => g.Count() > 1) is { } twice)
        {
            throw new FormatException($"--scenario '{twice.Key}' is given twice.");
        }

        if (result.Target is null)
        {
            throw new FormatException("--target is required, e.g. --target http://127.0.0.1:8080.");
        }

        if (result.Simulations.Count == 0)
        {
            throw new FormatException("--simulation is required, e.g. --simulation inject:rate=100,during=10s.");
        }

        // The same rules LoadPlan enforces, checked here so that they are usage errors (exit 2), not a run that failed (3).
        var models = result.Simulations.Select(static s => s.Model).Where(static m => m != LoadModel.Either).Distinct().Count();
        if (models == 0)
        {
            throw new FormatException("--simulation: every phase is a pause; add one that produces load, e.g. inject:rate=100,during=10s.");
        }

        if (models > 1)
        {
            throw new FormatException("--simulation: open-model (inject, ramp-inject) and closed-model (constant, ramp-constant) phases cannot be mixed in one run.");
        }

        // ramp-inject:rate=0 (or ramp-constant:copies=0) on its own ramps from 0 to 0: the run sent nothing and then failed
        // (exit 1, "no requests completed") as if the target had not answered.
        if (Running.LoadPlan.Create(result.Simulations).Segments.All(static s => s.From == 0 && s.To == 0))
        {
            throw new FormatException("--simulation: no phase produces load (every rate or copies count is 0); give one above 0, e.g. inject:rate=100,during=10s.");
        }

        return result;
    }
}
