using Edge.Load.Stats;

namespace Edge.Load.Tests.Stats;

public sealed class OutcomeStatsTests
{
    [Fact]
    public void DrainInterval_KnownLatencySet_PercentilesMatch()
    {
        // 1..1000 ms, each once: p50 = 500 ms, p75 = 750, p95 = 950, p99 = 990, mean 500.5, stddev sqrt((n^2-1)/12).
        var stats = new OutcomeStats();
        for (var ms = 1; ms <= 1000; ms++)
        {
            stats.Record(ms * 1000L, bytes: 10, statusCode: "200");
        }

        stats.DrainInterval();
        var report = ReportBuilder.Outcome(stats, seconds: 10);

        // HdrHistogram with 3 significant digits is exact to 0.1%.
        AssertClose(500, report.P50Ms);
        AssertClose(750, report.P75Ms);
        AssertClose(950, report.P95Ms);
        AssertClose(990, report.P99Ms);
        AssertClose(999, report.P999Ms); // the tail a p99 hides: 1 request in 1000
        AssertClose(1000, report.MaxMs);
        Assert.Equal(1, report.MinMs!.Value);
        AssertClose(500.5, report.MeanMs);
        AssertClose(Math.Sqrt(((1000.0 * 1000) - 1) / 12), report.StdDevMs);
        Assert.Equal(1000, report.Count);
        Assert.Equal(100, report.Rps);
        Assert.Equal(10_000, report.Bytes);
        Assert.Equal([new("200", 1000)], report.StatusCodes);
    }

    [Fact]
    public void Outcome_OneResponse_MeanIsTheResponseNotBelowTheMin()
    {
        var stats = new OutcomeStats();
        stats.Record(8_298_175, 0, "200");
        stats.DrainInterval();

        var report = ReportBuilder.Outcome(stats, seconds: 10);

        Assert.Equal(8298.175, report.MinMs);
        Assert.Equal(8298.175, report.MeanMs);
    }

    [Fact]
    public void Outcome_ResponseSlowerThanTenMinutes_IsNotReportedAsTenMinutes()
    {
        // --timeout takes up to 24h, but the histogram stopped at 10 min and every slower latency was clamped to it: a
        // response after 20 min read max = mean = 600000 ms.
        var stats = new OutcomeStats();
        var twentyMinutes = (long)TimeSpan.FromMinutes(20).TotalMicroseconds;
        stats.Record(twentyMinutes, 0, "200");
        stats.DrainInterval();

        var report = ReportBuilder.Outcome(stats, seconds: 1800);

        AssertClose(20 * 60_000, report.MaxMs);
        AssertClose(20 * 60_000, report.P99Ms);
        Assert.Equal(20 * 60_000, report.MeanMs);
    }

    [Fact]
    public void DrainInterval_CalledRepeatedly_AccumulatesTotalsAcrossIntervals()
    {
        var stats = new OutcomeStats();
        stats.Record(1000, 0, "200");
        var first = stats.DrainInterval().TotalCount;
        stats.Record(2000, 0, "200");
        stats.Record(3000, 0, "503");
        var second = stats.DrainInterval().TotalCount;

        Assert.Equal(1, first);
        Assert.Equal(2, second);
        Assert.Equal(3, stats.Total.TotalCount);
        Assert.Equal([new KeyValuePair<string, long>("200", 2), new KeyValuePair<string, long>("503", 1)], stats.StatusCodes());
    }

    [Fact]
    public void Outcome_NoResponses_LatenciesAreNotMeasuredRatherThanZero()
    {
        var stats = new OutcomeStats();
        stats.DrainInterval();

        var report = ReportBuilder.Outcome(stats, seconds: 10);

        Assert.Equal(0, report.Count);
        Assert.Equal(0, report.Rps);
        Assert.All(new[] { report.MinMs, report.MeanMs, report.MaxMs, report.StdDevMs, report.P50Ms, report.P75Ms, report.P95Ms, report.P99Ms, report.P999Ms }, Assert.Null);
    }

    private static void AssertClose(double expected, double? actual)
    {
        Assert.NotNull(actual);
        Assert.True(Math.Abs(expected - actual.Value) <= expected * 0.001 + 0.001, $"expected {expected} ± 0.1%, got {actual}");
    }
}
