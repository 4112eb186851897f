using System.Globalization;
using System.Text;

namespace Edge.Load.Reporting;

internal static class MarkdownReport
{
    public const string StatsHeader = "| step | outcome | count | RPS | min ms | mean ms | max ms | stddev ms | p50 ms | p75 ms | p95 ms | p99 ms | p99.9 ms | bytes |";

    public static string Render(RunReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Load test report: {report.Title}");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- started: {report.StartedUtc:yyyy-MM-dd HH:mm:ss} UTC, took {report.Duration.TotalSeconds:0.0} s");
        if (report.TargetText.Length > 0)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- target: {report.TargetText}");
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"- machine: {report.Environment.Text}");
        if (report.Interrupted)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- INTERRUPTED: {RunReport.InterruptedText}");
        }

        var thresholds = report.Thresholds.Count == 0 ? "none" : report.AllThresholdsPassed ? "all passed" : "FAILED";
        md.AppendLine(CultureInfo.InvariantCulture, $"- thresholds: {(report.Interrupted && report.AllThresholdsPassed ? thresholds + " on the part that ran (not a pass: the run was stopped)" : thresholds)}");
        foreach (var reason in report.WithoutOk)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- FAILED: {reason}");
        }

        md.AppendLine();

        foreach (var scenario in report.Scenarios)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"## Scenario `{scenario.Name}`");
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"- simulation: {string.Join(", then ", scenario.Simulations)}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- parameters: {scenario.ParametersText}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- warm-up (not counted): {scenario.WarmUp.TotalSeconds:0.###} s, {scenario.WarmUpRequests} requests; measured: {scenario.DurationText}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- rate: {scenario.OfferedText}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- protocol: {scenario.ProtocolText}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- generator: {scenario.GeneratorText}");
            md.AppendLine(CultureInfo.InvariantCulture, $"- latency: {scenario.LatencyText}");
            md.AppendLine();
            md.AppendLine(StatsHeader);
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var step in scenario.Steps)
            {
                foreach (var (outcome, s) in new[] { ("ok", step.Ok), ("fail", step.Fail) })
                {
                    md.AppendLine(CultureInfo.InvariantCulture,
                        $"| {step.Name} | {outcome} | {s.Count} | {Formatting.Rate(s.Rps)} | {Formatting.Ms(s.MinMs)} | {Formatting.Ms(s.MeanMs)} | {Formatting.Ms(s.MaxMs)} | {Formatting.Ms(s.StdDevMs)} | {Formatting.Ms(s.P50Ms)} | {Formatting.Ms(s.P75Ms)} | {Formatting.Ms(s.P95Ms)} | {Formatting.Ms(s.P99Ms)} | {Formatting.Ms(s.P999Ms)} | {s.Bytes} |");
                }
            }

            md.AppendLine();
            md.AppendLine("| step | outcome | status code | count |");
            md.AppendLine("|---|---|---|---:|");
            foreach (var step in scenario.Steps)
            {
                foreach (var (outcome, s) in new[] { ("ok", step.Ok), ("fail", step.Fail) })
                {
                    foreach (var code in s.StatusCodes)
                    {
                        md.AppendLine(CultureInfo.InvariantCulture, $"| {step.Name} | {outcome} | {code.StatusCode} | {code.Count} |");
                    }
                }
            }

            md.AppendLine();
        }

        if (report.Thresholds.Count > 0)
        {
            md.AppendLine("## Thresholds");
            md.AppendLine();
            md.AppendLine("| scenario | step | check | actual | sample | result |");
            md.AppendLine("|---|---|---|---:|---:|---|");
            foreach (var t in report.Thresholds)
            {
                var actual = t.ActualText;
                md.AppendLine(CultureInfo.InvariantCulture, $"| {t.Scenario} | {t.Step} | `{t.Threshold.Expression}`{(t.Threshold.IsDefault ? " (default)" : "")} | {actual} | {t.Sample} | {(t.Passed ? "passed" : "FAILED")} |");
            }

            md.AppendLine();
        }

        return md.ToString();
    }
}
