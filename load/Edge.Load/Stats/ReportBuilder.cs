using Edge.Load.Reporting;
using HdrHistogram;

namespace Edge.Load.Stats;

/// <summary>Turns drained statistics into the immutable report model.</summary>
internal static class ReportBuilder
{
    public static StepReport Step(StepStats step, double seconds) => new()
    {
        Name = step.Name,
        Ok = Outcome(step.Ok, seconds),
        Fail = Outcome(step.Fail, seconds),
    };

    public static OutcomeReport Outcome(OutcomeStats stats, double seconds)
    {
        var h = stats.Total;
        var count = h.TotalCount;
        return new OutcomeReport
        {
            Count = count,
            Rps = seconds <= 0 ? 0 : count / seconds,
            MinMs = count == 0 ? null : stats.MinMicros / 1000.0,
            MeanMs = count == 0 ? null : stats.MeanMicros / 1000.0,
            MaxMs = count == 0 ? null : h.GetMaxValue() / 1000.0,
            StdDevMs = count == 0 ? null : h.GetStdDeviation() / 1000.0,
            P50Ms = Percentile(h, 50),
            P75Ms = Percentile(h, 75),
            P95Ms = Percentile(h, 95),
            P99Ms = Percentile(h, 99),
            P999Ms = Percentile(h, 99.9),
            Bytes = stats.Bytes,
            StatusCodes = [.. stats.StatusCodes().Select(static p => new StatusCodeCount(p.Key, p.Value))],
        };
    }

    private static double? Percentile(HistogramBase h, double percentile) =>
        h.TotalCount == 0 ? null : h.GetValueAtPercentile(percentile) / 1000.0;
}
