using Edge.Load.Reporting;

namespace Edge.Load.Tests.Reporting;

public sealed class ScenarioReportTests
{
    [Theory]
    [InlineData(95, false, "offered 100/s (1000 scheduled, 1000 sent); served 95 ok/s, 95.0% of the offered rate")]
    [InlineData(94.9, true, "offered 100/s (1000 scheduled, 1000 sent); served 94.9 ok/s, 94.9% of the offered rate: offered rate NOT achieved (5.1% short)")]
    [InlineData(0, true, "offered 100/s (1000 scheduled, 1000 sent); served 0 ok/s, 0.0% of the offered rate: offered rate NOT achieved (100.0% short)")]
    public void OfferedText_OpenModel_SaysWhetherTheOfferedRateWasAchievedAtTheDocumentedShare(double okRps, bool missed, string expected)
    {
        var report = Report(scheduled: 1000, okRps);

        Assert.Equal(100, report.OfferedRps);
        Assert.Equal(missed, report.OfferedRateMissed);
        Assert.Equal(expected, report.OfferedText);
    }

    [Fact]
    public void OfferedText_ClosedModel_HasNoOfferedRateAndNoVerdict()
    {
        var report = Report(scheduled: null, okRps: 10);

        Assert.Null(report.OfferedRps);
        Assert.False(report.OfferedRateMissed);
        Assert.Equal("closed model, 1000 requests sent: the target sets the pace, there is no offered rate", report.OfferedText);
    }

    [Fact]
    public void OfferedRateMissed_CancelledRun_NotJudged()
    {
        var report = Report(scheduled: 1000, okRps: 10) with { Cancelled = true };

        Assert.False(report.OfferedRateMissed);
    }

    [Theory]
    [InlineData(9, false, "max dispatch lag 274.648 ms, 9 dispatches more than 10 ms late")]
    [InlineData(10, true, "max dispatch lag 274.648 ms, 10 dispatches more than 10 ms late (1.0% of 1000 sent): the generator fell behind, and the latencies include its lag")]
    public void GeneratorText_OnePercentOfDispatchesLate_SaysTheGeneratorFellBehind(long late, bool behind, string expected)
    {
        // inject:rate=8000 on 2 cores: 5242 of 24000 dispatches more than 10 ms late (up to 275 ms) and p99 386 ms, which
        // the run charged to the target without a word; only the generator line, read closely, told.
        var report = Report(scheduled: 1000, okRps: 100) with { MaxDispatchLag = TimeSpan.FromMilliseconds(274.648), LateDispatches = late };

        Assert.Equal(behind, report.GeneratorFellBehind);
        Assert.Equal(expected, report.GeneratorText);
    }

    internal static ScenarioReport Report(long? scheduled, double okRps) => new()
    {
        Name = "s",
        Simulations = ["inject rate=100/1s during 10s"],
        WarmUp = TimeSpan.Zero,
        Duration = TimeSpan.FromSeconds(10),
        LoadDuration = TimeSpan.FromSeconds(10),
        Sent = 1000,
        Scheduled = scheduled,
        Steps = [new StepReport { Name = "global", Ok = Outcome((long)(okRps * 10), okRps), Fail = Outcome(1000 - (long)(okRps * 10), 0) }],
        TimeSeries = [],
    };

    internal static OutcomeReport Outcome(long count, double rps, double? p99 = null) => new()
    {
        Count = count,
        Rps = rps,
        MinMs = p99,
        MeanMs = p99,
        MaxMs = p99,
        StdDevMs = p99 is null ? null : 0,
        P50Ms = p99,
        P75Ms = p99,
        P95Ms = p99,
        P99Ms = p99,
        P999Ms = p99,
        Bytes = 0,
        StatusCodes = [],
    };
}
