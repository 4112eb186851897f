using Edge.Load.Http;
using Edge.Load.Reporting;
using Edge.Load.Scenarios;
using Edge.Load.Thresholds;

namespace Edge.Load.Running;

/// <summary>Runs scenarios (concurrently, like NBomber) and returns the report with thresholds evaluated.</summary>
public static class LoadTest
{
    public static async Task<RunReport> RunAsync(IReadOnlyList<ScenarioDefinition> scenarios, LoadTestOptions options, IReadOnlyList<Threshold>? extraThresholds = null, CancellationToken cancellationToken = default)
    {
        if (scenarios.Count == 0)
        {
            throw new ArgumentException("Nothing to run: no scenarios.", nameof(scenarios));
        }

        var duplicate = scenarios.GroupBy(static s => s.Name, StringComparer.Ordinal).FirstOrDefault(static g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Scenario name '{duplicate.Key}' is used twice.", nameof(scenarios));
        }

        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, Environment.ProcessorCount * 8), Math.Max(io, Environment.ProcessorCount * 8));

        var ownsClient = options.HttpClient is null;
        var client = options.HttpClient ?? LoadHttpClient.Create(options.RequestTimeout, options.Http2);
        try
        {
            var read = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var used = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var scenario in scenarios)
            {
                if (scenario.Init is not null)
                {
                    var init = new ScenarioInitContext(scenario.Name, client, options.Target, options.Parameters, cancellationToken, read);
                    await scenario.Init(init).ConfigureAwait(false);
                    used[scenario.Name] = init.UsedParameters;
                }
            }

            // A misspelt parameter (paht=/orders) would otherwise leave the default in place and measure another route.
            var unread = options.Parameters.Keys.Where(k => !read.Contains(k)).Order(StringComparer.Ordinal).ToList();
            if (unread.Count > 0)
            {
                throw new FormatException($"parameter {string.Join(", ", unread.Select(static k => $"'{k}'"))} is not used by {string.Join(", ", scenarios.Select(static s => s.Name))} with these parameters (see 'edge-load list').");
            }

            var progress = new ProgressPrinter(options.Progress);
            var environment = RunEnvironment.Capture();
            var started = DateTimeOffset.UtcNow;
            var reports = await Task.WhenAll(scenarios.Select(s => new ScenarioRunner(s, options, progress).RunAsync(cancellationToken))).ConfigureAwait(false);
            var report = new RunReport
            {
                Title = options.Title,
                StartedUtc = started,
                Duration = DateTimeOffset.UtcNow - started,
                Target = options.Target?.ToString(),
                RequestTimeout = client.Timeout,
                Environment = environment with { LoadAverageAtEnd = RunEnvironment.LoadAverage() },
                Scenarios = [.. reports.Select(r => r with { Parameters = used.GetValueOrDefault(r.Name, []) })],
            };

            var thresholds = scenarios.SelectMany(static s => s.Thresholds.Select(t => t.Scenario is null ? t with { Scenario = s.Name } : t))
                .Concat(extraThresholds ?? [])
                .ToList();
            thresholds.AddRange(scenarios.Where(s => !thresholds.Exists(t => t.ChecksFailuresOf(s.Name))).Select(static s => Threshold.DefaultFailBudget(s.Name)));
            return report with { Thresholds = ThresholdEvaluator.Evaluate(report, thresholds) };
        }
        finally
        {
            if (ownsClient)
            {
                client.Dispose();
            }
        }
    }
}
