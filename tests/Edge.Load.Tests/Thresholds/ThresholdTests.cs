using Edge.Load.Reporting;
using Edge.Load.Thresholds;

namespace Edge.Load.Tests.Thresholds;

public sealed class ThresholdTests
{
    [Theory]
    [InlineData("p99 < 20ms", ThresholdMetric.P99, ThresholdOperator.LessThan, 20)]
    [InlineData("p999 < 50ms", ThresholdMetric.P999, ThresholdOperator.LessThan, 50)]
    [InlineData("p50<=1.5ms", ThresholdMetric.P50, ThresholdOperator.LessOrEqual, 1.5)]
    [InlineData("max < 2s", ThresholdMetric.Max, ThresholdOperator.LessThan, 2000)]
    [InlineData("mean < 500us", ThresholdMetric.Mean, ThresholdOperator.LessThan, 0.5)]
    [InlineData("fail% < 1", ThresholdMetric.FailPercent, ThresholdOperator.LessThan, 1)]
    [InlineData("fail% < 1%", ThresholdMetric.FailPercent, ThresholdOperator.LessThan, 1)]
    [InlineData("rps > 100", ThresholdMetric.Rps, ThresholdOperator.GreaterThan, 100)]
    [InlineData("requests >= 10", ThresholdMetric.Requests, ThresholdOperator.GreaterOrEqual, 10)]
    public void Parse_Expression_ReadsMetricOperatorAndValue(string text, ThresholdMetric metric, ThresholdOperator op, double value)
    {
        var threshold = Threshold.Parse(text);

        Assert.Equal(metric, threshold.Metric);
        Assert.Equal(op, threshold.Operator);
        Assert.Equal(value, threshold.Value, 9);
        Assert.Null(threshold.Scenario);
    }

    [Fact]
    public void Parse_ScopedExpression_ReadsScenarioAndStep()
    {
        var threshold = Threshold.Parse("mixed/webhook: p95 < 30ms");

        Assert.Equal("mixed", threshold.Scenario);
        Assert.Equal("webhook", threshold.Step);
        Assert.Equal(ThresholdMetric.P95, threshold.Metric);
    }

    [Theory]
    [InlineData("p99 20ms")]
    [InlineData("p42 < 1ms")]
    [InlineData("rps > 10ms")]
    [InlineData("")]
    public void Parse_Invalid_ThrowsFormatException(string text) =>
        Assert.Throws<FormatException>(() => Threshold.Parse(text));

    [Fact]
    public void Load_JsonFile_ReadsStringsAndObjects()
    {
        var path = Path.Combine(TestBackends.TempFolder("thresholds"), "thresholds.json");
        File.WriteAllText(path, """
            {
              // comments are allowed
              "Thresholds": [
                "p99 < 20ms",
                { "Scenario": "mixed", "Step": "webhook", "Check": "fail% < 1" }
              ]
            }
            """);

        var thresholds = ThresholdFile.Load(path);

        Assert.Equal(2, thresholds.Count);
        Assert.Equal(ThresholdMetric.P99, thresholds[0].Metric);
        Assert.Equal("mixed", thresholds[1].Scenario);
        Assert.Equal("webhook", thresholds[1].Step);
        Assert.Equal(ThresholdMetric.FailPercent, thresholds[1].Metric);
    }

    [Fact]
    public void Load_ObjectWithoutCheck_ThrowsFormatException()
    {
        var path = Path.Combine(TestBackends.TempFolder("thresholds"), "bad.json");
        File.WriteAllText(path, """{ "Thresholds": [ { "Scenario": "x" } ] }""");

        Assert.Throws<FormatException>(() => ThresholdFile.Load(path));
    }

    [Theory]
    [InlineData("""{ "Thresholds": [ { "Check": 5 } ] }""", "'Check' must be a string, got number 5")]
    [InlineData("""{ "Thresholds": [ { "Scenario": 5, "Check": "p99 < 20ms" } ] }""", "'Scenario' must be a string, got number 5")]
    [InlineData("""{ "Thresholds": [ { "Step": ["a"], "Check": "p99 < 20ms" } ] }""", "'Step' must be a string, got array")]
    [InlineData("{bad", "not valid JSON")]
    public void Load_WrongJson_ThrowsFormatExceptionNamingTheFile(string json, string expected)
    {
        var path = Path.Combine(TestBackends.TempFolder("thresholds"), "bad.json");
        File.WriteAllText(path, json);

        var error = Assert.Throws<FormatException>(() => ThresholdFile.Load(path));

        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}

public sealed class ThresholdEvaluatorTests
{
    [Theory]
    [InlineData("p99 < 20ms", false)]
    [InlineData("p99 <= 20ms", true)]
    [InlineData("p99 > 20ms", false)]
    [InlineData("p99 >= 20ms", true)]
    [InlineData("p99 < 20.001ms", true)]
    public void Evaluate_ValueExactlyAtTheLimit_StrictOperatorsFailInclusiveOnesPass(string check, bool passed)
    {
        var result = Assert.Single(ThresholdEvaluator.Evaluate(Run(okCount: 100, failCount: 0, p99: 20), [Threshold.Parse(check)]));

        Assert.Equal(passed, result.Passed);
        Assert.Equal("20ms", result.ActualText);
        Assert.Equal(100, result.Sample);
        Assert.EndsWith("(actual 20ms, over 100 ok responses)", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_FailPercentJustBelowTheLimit_PrintsEnoughDigitsNotToLookLikeTheLimit()
    {
        // 1 failure in 10,001 requests is 0.009999%: rounded to 0.### it printed "0.01%" next to "fail% < 0.01 passed".
        var result = Assert.Single(ThresholdEvaluator.Evaluate(Run(okCount: 10_000, failCount: 1, p99: 1), [Threshold.Parse("fail% < 0.01")]));

        Assert.True(result.Passed);
        Assert.NotEqual("0.01%", result.ActualText);
        Assert.StartsWith("0.00999", result.ActualText, StringComparison.Ordinal);
        Assert.Equal(10_001, result.Sample);
        Assert.EndsWith("%, over 10001 requests)", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_RpsJustBelowTheLimit_PrintsEnoughDigitsNotToLookLikeTheLimit()
    {
        var run = Run(okCount: 100, failCount: 0, p99: 1);
        var step = run.Scenarios[0].Steps[0];
        run = run with { Scenarios = [run.Scenarios[0] with { Steps = [step with { Ok = step.Ok with { Rps = 99.96 } }] }] };

        var result = Assert.Single(ThresholdEvaluator.Evaluate(run, [Threshold.Parse("rps > 100")]));

        Assert.False(result.Passed);
        Assert.Equal("99.96", result.ActualText);
    }

    [Fact]
    public void Evaluate_RpsRoundingPastTheLimit_PrintsEnoughDigitsNotToContradictTheVerdict()
    {
        // 99.96 rounded to 0.# is "100": "FAILED: rps > 99.97 (actual 100)" reads as a wrong verdict, as "actual 100"
        // beside "rps > 100" did before; only a rounding onto the limit itself was caught.
        var run = Run(okCount: 100, failCount: 0, p99: 1);
        var step = run.Scenarios[0].Steps[0];
        run = run with { Scenarios = [run.Scenarios[0] with { Steps = [step with { Ok = step.Ok with { Rps = 99.96 } }] }] };

        var result = Assert.Single(ThresholdEvaluator.Evaluate(run, [Threshold.Parse("rps > 99.97")]));

        Assert.False(result.Passed);
        Assert.Equal("99.96", result.ActualText);
    }

    private static RunReport Run(long okCount, long failCount, double p99) => new()
    {
        Title = "t",
        StartedUtc = DateTimeOffset.UnixEpoch,
        Duration = TimeSpan.FromSeconds(10),
        Environment = RunEnvironment.Capture(),
        Scenarios =
        [
            Edge.Load.Tests.Reporting.ScenarioReportTests.Report(scheduled: null, okRps: 0) with
            {
                Steps = [new StepReport { Name = "global", Ok = Edge.Load.Tests.Reporting.ScenarioReportTests.Outcome(okCount, okCount / 10.0, p99), Fail = Edge.Load.Tests.Reporting.ScenarioReportTests.Outcome(failCount, failCount / 10.0) }],
            },
        ],
    };
}
