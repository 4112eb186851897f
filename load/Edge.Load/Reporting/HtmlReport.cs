using System.Globalization;
using System.Net;
using System.Text;

namespace Edge.Load.Reporting;

/// <summary>A self-contained html report: tables plus latency-over-time and RPS-over-time charts in inline SVG. No scripts, nothing fetched.</summary>
internal static class HtmlReport
{
    private const string Style = """
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
        table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
        th{background:#f3f3f3}td.name,th.name{text-align:left}.fail{color:#b00}.pass{color:#070}
        .chart .grid{stroke:#e5e5e5}.chart .axis{stroke:#555}.chart .tick{font-size:11px;fill:#555}
        .chart .label{font-size:12px;fill:#333}.chart .title{font-size:14px;font-weight:600;fill:#222}
        """;

    public static string Render(RunReport report)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
        html.Append(CultureInfo.InvariantCulture, $"<title>Load test report: {E(report.Title)}</title><style>{Style}</style></head><body>");
        html.Append(CultureInfo.InvariantCulture, $"<h1>Load test report: {E(report.Title)}</h1>");
        html.Append(CultureInfo.InvariantCulture, $"<p>Started {report.StartedUtc:yyyy-MM-dd HH:mm:ss} UTC, took {report.Duration.TotalSeconds:0.0} s");
        if (report.TargetText.Length > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $", target {E(report.TargetText)}");
        }

        html.Append("</p>");
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"machine\">Machine: {E(report.Environment.Text)}.</p>");
        var verdict = report.Interrupted ? "INTERRUPTED: " + RunReport.InterruptedText
            : report.WithoutOk.Count > 0 ? "FAILED: no ok responses (below)"
            : report.Thresholds.Count == 0 ? "no thresholds" : report.AllThresholdsPassed ? "all thresholds passed" : "thresholds FAILED";
        html.Append(CultureInfo.InvariantCulture, $"<p id=\"verdict\" class=\"{(report.Passed ? "pass" : "fail")}\">{E(verdict)}</p>");
        foreach (var reason in report.WithoutOk)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"fail without-ok\">FAILED: {E(reason)}</p>");
        }


        foreach (var (scenario, index) in report.Scenarios.Select(static (s, i) => (s, i)))
        {
            html.Append(CultureInfo.InvariantCulture, $"<section class=\"scenario\" data-scenario=\"{E(scenario.Name)}\"><h2>Scenario {E(scenario.Name)}</h2>");
            html.Append(CultureInfo.InvariantCulture, $"<p>Simulation: {E(string.Join(", then ", scenario.Simulations))}. Warm-up (not counted): {scenario.WarmUp.TotalSeconds:0.###} s, {scenario.WarmUpRequests} requests. Measured: {E(scenario.DurationText)}. Generator: {E(scenario.GeneratorText)}.</p>");
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"latency\">Latency: {E(scenario.LatencyText)}.</p>");
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"parameters\">Parameters: {E(scenario.ParametersText)}.</p>");
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"rate{(scenario.OfferedRateMissed ? " fail" : "")}\">Rate: {E(scenario.OfferedText)}.</p>");
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"protocol{(scenario.OtherProtocolResponses > 0 ? " fail" : "")}\">Protocol: {E(scenario.ProtocolText)}.</p>");
            html.Append("<table class=\"stats\"><thead><tr><th class=\"name\">step</th><th class=\"name\">outcome</th><th>count</th><th>RPS</th><th>min ms</th><th>mean ms</th><th>max ms</th><th>stddev ms</th><th>p50 ms</th><th>p75 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>bytes</th><th class=\"name\">status codes</th></tr></thead><tbody>");
            foreach (var step in scenario.Steps)
            {
                foreach (var (outcome, s) in new[] { ("ok", step.Ok), ("fail", step.Fail) })
                {
                    html.Append(CultureInfo.InvariantCulture,
                        $"<tr class=\"{(outcome == "fail" && s.Count > 0 ? "fail" : outcome + "-outcome")}\"><td class=\"name\">{E(step.Name)}</td><td class=\"name\">{outcome}</td><td>{s.Count}</td><td>{Formatting.Rate(s.Rps)}</td><td>{Formatting.Ms(s.MinMs)}</td><td>{Formatting.Ms(s.MeanMs)}</td><td>{Formatting.Ms(s.MaxMs)}</td><td>{Formatting.Ms(s.StdDevMs)}</td><td>{Formatting.Ms(s.P50Ms)}</td><td>{Formatting.Ms(s.P75Ms)}</td><td>{Formatting.Ms(s.P95Ms)}</td><td>{Formatting.Ms(s.P99Ms)}</td><td>{Formatting.Ms(s.P999Ms)}</td><td title=\"{s.Bytes} B\">{E(Formatting.Bytes(s.Bytes))}</td><td class=\"name\">{E(Formatting.StatusCodes(s.StatusCodes))}</td></tr>");
                }
            }

            html.Append("</tbody></table>");
            var series = scenario.TimeSeries;
            html.Append(SvgChart.Render($"latency-{index}", "Latency over time (ok responses)", "seconds", "ms",
            [
                new("p50", "#1f77b4", [.. series.Where(static p => p.P50Ms is not null).Select(static p => (p.ElapsedSeconds, p.P50Ms!.Value))]),
                new("p99", "#ff7f0e", [.. series.Where(static p => p.P99Ms is not null).Select(static p => (p.ElapsedSeconds, p.P99Ms!.Value))]),
                new("max", "#999999", [.. series.Where(static p => p.MaxMs is not null).Select(static p => (p.ElapsedSeconds, p.MaxMs!.Value))]),
            ]));
            html.Append(SvgChart.Render($"rps-{index}", "RPS over time", "seconds", "requests/s",
            [
                new("ok", "#2ca02c", [.. series.Select(static p => (p.ElapsedSeconds, p.OkRps))]),
                new("fail", "#d62728", [.. series.Select(static p => (p.ElapsedSeconds, p.FailRps))]),
            ]));
            html.Append("</section>");
        }

        if (report.Thresholds.Count > 0)
        {
            html.Append("<h2>Thresholds</h2><table class=\"thresholds\"><thead><tr><th class=\"name\">scenario</th><th class=\"name\">step</th><th class=\"name\">check</th><th>actual</th><th>sample</th><th class=\"name\">result</th></tr></thead><tbody>");
            foreach (var t in report.Thresholds)
            {
                var actual = t.ActualText;
                html.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"name\">{E(t.Scenario)}</td><td class=\"name\">{E(t.Step)}</td><td class=\"name\">{E(t.Threshold.Label)}</td><td>{E(actual)}</td><td>{t.Sample}</td><td class=\"name {(t.Passed ? "pass" : "fail")}\">{(t.Passed ? "passed" : "FAILED")}</td></tr>");
            }

            html.Append("</tbody></table>");
        }

        html.Append("</body></html>");
        return html.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
