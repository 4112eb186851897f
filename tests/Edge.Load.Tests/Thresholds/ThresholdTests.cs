using Edge.Load.Thresholds;

namespace Edge.Load.Tests.Thresholds;

public sealed class ThresholdTests
{
    [Theory]
    [InlineData("p99 < 20ms", ThresholdMetric.P99, ThresholdOperator.LessThan, 20)]
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
}
