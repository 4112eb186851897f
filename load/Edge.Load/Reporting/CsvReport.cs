using System.Globalization;
using System.Text;

namespace Edge.Load.Reporting;

/// <summary>
/// report.csv: one row per scenario, step and outcome. status-codes.csv: one row per scenario, step, outcome and status code.
/// </summary>
internal static class CsvReport
{
    public static readonly string[] Columns =
    [
        "scenario", "step", "outcome", "count", "rps", "min_ms", "mean_ms", "max_ms", "stddev_ms",
        "p50_ms", "p75_ms", "p95_ms", "p99_ms", "bytes", "duration_s", "simulation", "warmup_requests", "offered_rps", "sent",

        // Added after the others, so scripts that read columns by position (bench.sh) keep working.
        "p999_ms",
    ];

    public static readonly string[] StatusColumns = ["scenario", "step", "outcome", "status_code", "count"];

    public static string Render(RunReport report)
    {
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(',', Columns));
        foreach (var scenario in report.Scenarios)
        {
            var simulation = string.Join(" then ", scenario.Simulations);
            foreach (var step in scenario.Steps)
            {
                foreach (var (outcome, stats) in new[] { ("ok", step.Ok), ("fail", step.Fail) })
                {
                    string[] cells =
                    [
                        scenario.Name, step.Name, outcome, Formatting.Count(stats.Count), Formatting.Full(stats.Rps),
                        Formatting.CsvMs(stats.MinMs), Formatting.CsvMs(stats.MeanMs), Formatting.CsvMs(stats.MaxMs), Formatting.CsvMs(stats.StdDevMs),
                        Formatting.CsvMs(stats.P50Ms), Formatting.CsvMs(stats.P75Ms), Formatting.CsvMs(stats.P95Ms), Formatting.CsvMs(stats.P99Ms),
                        Formatting.Count(stats.Bytes), scenario.Duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), simulation,
                        Formatting.Count(scenario.WarmUpRequests),
                        scenario.OfferedRps is { } offered ? Formatting.Full(offered) : "", Formatting.Count(scenario.Sent),
                        Formatting.CsvMs(stats.P999Ms),
                    ];
                    csv.AppendLine(string.Join(',', cells.Select(Escape)));
                }
            }
        }

        return csv.ToString();
    }

    public static string RenderStatusCodes(RunReport report)
    {
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(',', StatusColumns));
        foreach (var scenario in report.Scenarios)
        {
            foreach (var step in scenario.Steps)
            {
                foreach (var (outcome, stats) in new[] { ("ok", step.Ok), ("fail", step.Fail) })
                {
                    foreach (var code in stats.StatusCodes)
                    {
                        csv.AppendLine(string.Join(',', new[] { scenario.Name, step.Name, outcome, code.StatusCode, Formatting.Count(code.Count) }.Select(Escape)));
                    }
                }
            }
        }

        return csv.ToString();
    }

    private static string Escape(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
