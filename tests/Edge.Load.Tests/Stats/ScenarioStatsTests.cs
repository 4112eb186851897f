using System.Diagnostics;
using Edge.Load.Scenarios;
using Edge.Load.Stats;

namespace Edge.Load.Tests.Stats;

public sealed class ScenarioStatsTests
{
    [Fact]
    public void Sample_ShortFinalTail_FoldedIntoTheLastPointSoTheSeriesAddsUpToTheTotals()
    {
        // The final sample after the load's last tick is usually a few ms long; it was drained into the totals but left
        // out of the series (a point that short charts as a spike), so the time series (now in report.json) summed to
        // fewer requests than the report, and the responses that landed last, often the slowest, were in no point.
        var stats = new ScenarioStats();
        Record(stats, ok: 3, fail: 0, ms: 5);
        stats.Sample(1.0);
        Record(stats, ok: 2, fail: 1, ms: 5);
        stats.Sample(2.0);
        Record(stats, ok: 1, fail: 1, ms: 900);

        stats.Sample(2.1, minPointSeconds: 0.5);

        Assert.Equal(2, stats.Series.Count);
        Assert.Equal(6, stats.Series.Sum(static p => p.OkCount));
        Assert.Equal(2, stats.Series.Sum(static p => p.FailCount));
        var last = stats.Series[^1];
        Assert.Equal(2.1, last.ElapsedSeconds);
        Assert.Equal(3, last.OkCount);
        Assert.Equal(3 / 1.1, last.OkRps, 9);
        Assert.Equal(2 / 1.1, last.FailRps, 9);
        Assert.True(last.MaxMs >= 900, $"max {last.MaxMs} ms leaves out the slow response of the tail");
    }

    private static void Record(ScenarioStats stats, int ok, int fail, int ms)
    {
        var ticks = Stopwatch.Frequency * ms / 1000;
        for (var i = 0; i < ok + fail; i++)
        {
            stats.Started();
            stats.Completed(i < ok ? Response.Ok("200") : Response.Fail("500"), ticks);
        }
    }
}
