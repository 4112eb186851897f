using System.Globalization;
using Edge.Load.Reporting;
using Edge.Load.Stats;

namespace Edge.Load.Thresholds;

internal static class ThresholdEvaluator
{
    public static IReadOnlyList<ThresholdResult> Evaluate(RunReport report, IReadOnlyList<Threshold> thresholds)
    {
        var results = new List<ThresholdResult>();
        foreach (var threshold in thresholds)
        {
            var scenarios = threshold.Scenario is null
                ? report.Scenarios
                : [.. report.Scenarios.Where(s => s.Name == threshold.Scenario)];
            if (scenarios.Count == 0)
            {
                results.Add(Failed(threshold, threshold.Scenario ?? "*", threshold.Step ?? ScenarioStats.GlobalStepName, "no such scenario in this run"));
                continue;
            }

            foreach (var scenario in scenarios)
            {
                var stepName = threshold.Step ?? ScenarioStats.GlobalStepName;
                var step = scenario.Step(stepName);
                if (step is null)
                {
                    results.Add(Failed(threshold, scenario.Name, stepName, "no such step in this scenario"));
                    continue;
                }

                var actual = Measure(threshold.Metric, step);
                if (actual is null)
                {
                    results.Add(Failed(threshold, scenario.Name, stepName, "no ok responses to measure latency on"));
                    continue;
                }

                var passed = threshold.IsSatisfiedBy(actual.Value);
                var text = Format(threshold, actual.Value);
                var sample = Threshold.IsLatency(threshold.Metric) ? step.Ok.Count : step.Requests;
                results.Add(new ThresholdResult
                {
                    Threshold = threshold,
                    Scenario = scenario.Name,
                    Step = stepName,
                    Actual = actual,
                    ActualText = text,
                    Sample = sample,
                    Passed = passed,
                    Message = string.Create(CultureInfo.InvariantCulture, $"{(passed ? "passed" : "FAILED")}: {threshold.Label} (actual {text}, over {sample} {(Threshold.IsLatency(threshold.Metric) ? "ok responses" : "requests")})"),
                });
            }
        }

        return results;
    }

    public static double? Measure(ThresholdMetric metric, StepReport step) => metric switch
    {
        ThresholdMetric.Rps => step.Ok.Rps,
        ThresholdMetric.FailPercent => step.FailPercent,
        ThresholdMetric.FailCount => step.Fail.Count,
        ThresholdMetric.OkCount => step.Ok.Count,
        ThresholdMetric.Requests => step.Requests,
        _ when step.Ok.Count == 0 => null,
        ThresholdMetric.P50 => step.Ok.P50Ms,
        ThresholdMetric.P75 => step.Ok.P75Ms,
        ThresholdMetric.P95 => step.Ok.P95Ms,
        ThresholdMetric.P99 => step.Ok.P99Ms,
        ThresholdMetric.P999 => step.Ok.P999Ms,
        ThresholdMetric.Mean => step.Ok.MeanMs,
        ThresholdMetric.Min => step.Ok.MinMs,
        ThresholdMetric.Max => step.Ok.MaxMs,
        ThresholdMetric.StdDev => step.Ok.StdDevMs,
        _ => null,
    };

    /// <summary>
    /// The value with its unit, rounded, unless rounding would make it print as the limit itself or on the limit's other
    /// side: "fail% &lt; 1" passed with "actual 1%" (0.9999%), "rps &gt; 100" failed with "actual 100" (99.96) and
    /// "rps &gt; 99.97" failed with "actual 100" (99.96), which read as wrong verdicts.
    /// </summary>
    internal static string Format(Threshold threshold, double value)
    {
        var metric = threshold.Metric;
        var unit = Threshold.IsLatency(metric) ? "ms" : metric == ThresholdMetric.FailPercent ? "%" : "";
        var text = value.ToString(Threshold.IsLatency(metric) || metric == ThresholdMetric.FailPercent ? "0.###" : "0.#", CultureInfo.InvariantCulture);
        var rounded = double.Parse(text, CultureInfo.InvariantCulture);
        if ((value != threshold.Value && rounded == threshold.Value) || threshold.IsSatisfiedBy(rounded) != threshold.IsSatisfiedBy(value))
        {
            text = value.ToString("R", CultureInfo.InvariantCulture);
        }

        return text + unit;
    }

    private static ThresholdResult Failed(Threshold threshold, string scenario, string step, string reason) => new()
    {
        Threshold = threshold,
        Scenario = scenario,
        Step = step,
        Passed = false,
        Message = $"FAILED: {threshold.Label} ({reason})",
    };
}
