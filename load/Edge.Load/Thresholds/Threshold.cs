using System.Globalization;
using System.Text.RegularExpressions;
using Edge.Load.Simulations;

namespace Edge.Load.Thresholds;

public enum ThresholdMetric
{
    P50,
    P75,
    P95,
    P99,
    Mean,
    Min,
    Max,
    StdDev,
    Rps,
    FailPercent,
    FailCount,
    OkCount,
    Requests,
    P999,
}

public enum ThresholdOperator
{
    LessThan,
    LessOrEqual,
    GreaterThan,
    GreaterOrEqual,
}

/// <summary>
/// A check such as <c>p99 &lt; 20ms</c>, <c>fail% &lt; 1</c> or <c>rps &gt; 100</c> on a scenario (all when null)
/// and a step (the whole scenario when null). Latencies are of ok responses, in milliseconds.
/// </summary>
public sealed partial record Threshold
{
    public string? Scenario { get; init; }

    public string? Step { get; init; }

    public required ThresholdMetric Metric { get; init; }

    public required ThresholdOperator Operator { get; init; }

    /// <summary>The limit; milliseconds for latency metrics, percent for fail%.</summary>
    public required double Value { get; init; }

    public required string Expression { get; init; }

    /// <summary>Added by the run, not given: the failure budget of a scenario whose failures no threshold checks.</summary>
    public bool IsDefault { get; init; }

    /// <summary>The expression as the reports print it, marked when it is the run's default.</summary>
    public string Label => IsDefault ? Expression + " (default)" : Expression;

    /// <summary>
    /// The failure budget a scenario gets when no <c>fail%</c> or <c>fail</c> threshold covers its whole-scenario numbers:
    /// a target answering 500 to every other request passed a run that had no thresholds, because some responses were ok.
    /// </summary>
    public static Threshold DefaultFailBudget(string scenario) => Parse("fail% < 1", scenario) with { IsDefault = true };

    /// <summary>Whether this threshold checks the failures of <paramref name="scenario"/> as a whole (step "global").</summary>
    public bool ChecksFailuresOf(string scenario) =>
        Metric is ThresholdMetric.FailPercent or ThresholdMetric.FailCount
        && (Scenario is null || Scenario == scenario)
        && (Step is null || Step == "global");

    /// <summary>Parses <c>[scenario[/step]:] metric op value[unit]</c>.</summary>
    public static Threshold Parse(string text, string? scenario = null, string? step = null)
    {
        var match = ExpressionPattern().Match(text);
        if (!match.Success)
        {
            throw new FormatException($"Threshold '{text}' is not of the form 'metric op value', e.g. 'p99 < 20ms', 'fail% < 1', 'rps > 100'.");
        }

        var scope = match.Groups["scope"].Value;
        if (scope.Length > 0)
        {
            var slash = scope.IndexOf('/', StringComparison.Ordinal);
            scenario = slash < 0 ? scope : scope[..slash];
            step = slash < 0 ? step : scope[(slash + 1)..];
        }

        var metricText = match.Groups["metric"].Value.ToLowerInvariant();
        var metric = metricText switch
        {
            "p50" or "median" => ThresholdMetric.P50,
            "p75" => ThresholdMetric.P75,
            "p95" => ThresholdMetric.P95,
            "p99" => ThresholdMetric.P99,
            "p999" => ThresholdMetric.P999,
            "mean" => ThresholdMetric.Mean,
            "min" => ThresholdMetric.Min,
            "max" => ThresholdMetric.Max,
            "stddev" => ThresholdMetric.StdDev,
            "rps" => ThresholdMetric.Rps,
            "fail%" => ThresholdMetric.FailPercent,
            "fail" or "fails" => ThresholdMetric.FailCount,
            "ok" => ThresholdMetric.OkCount,
            "requests" => ThresholdMetric.Requests,
            _ => throw new FormatException($"Threshold '{text}': unknown metric '{metricText}' (p50, p75, p95, p99, p999, mean, min, max, stddev, rps, fail%, fail, ok, requests)."),
        };

        var op = match.Groups["op"].Value switch
        {
            "<" => ThresholdOperator.LessThan,
            "<=" => ThresholdOperator.LessOrEqual,
            ">" => ThresholdOperator.GreaterThan,
            _ => ThresholdOperator.GreaterOrEqual,
        };

        var valueText = match.Groups["value"].Value;
        var unit = match.Groups["unit"].Value.ToLowerInvariant();
        double value;
        if (IsLatency(metric))
        {
            value = DurationParser.TryParse(valueText + (unit.Length == 0 ? "ms" : unit), out var duration)
                ? duration.TotalMilliseconds
                : throw new FormatException($"Threshold '{text}': '{valueText}{unit}' is not a duration.");
        }
        else
        {
            if (unit.Length > 0 && !(unit == "%" && metric == ThresholdMetric.FailPercent))
            {
                throw new FormatException($"Threshold '{text}': metric '{metricText}' takes a plain number, not '{unit}'.");
            }

            value = double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return new Threshold { Scenario = scenario, Step = step, Metric = metric, Operator = op, Value = value, Expression = text.Trim() };
    }

    public static bool IsLatency(ThresholdMetric metric) => metric is ThresholdMetric.P50 or ThresholdMetric.P75 or ThresholdMetric.P95
        or ThresholdMetric.P99 or ThresholdMetric.P999 or ThresholdMetric.Mean or ThresholdMetric.Min or ThresholdMetric.Max or ThresholdMetric.StdDev;

    public bool IsSatisfiedBy(double actual) => Operator switch
    {
        ThresholdOperator.LessThan => actual < Value,
        ThresholdOperator.LessOrEqual => actual <= Value,
        ThresholdOperator.GreaterThan => actual > Value,
        _ => actual >= Value,
    };

    [GeneratedRegex(@"^\s*(?:(?<scope>[A-Za-z0-9._\-/]+)\s*:\s*)?(?<metric>[A-Za-z0-9]+%?)\s*(?<op><=|>=|<|>)\s*(?<value>[0-9]+(?:\.[0-9]+)?)\s*(?<unit>ms|us|µs|s|m|%)?\s*$")]
    private static partial Regex ExpressionPattern();
}
