using System.Diagnostics;
using Edge.Load.Scenarios;
using Edge.Load.Stats;

namespace Edge.Load.Tests.Stats;

public sealed class StepStatsTests
{
    [Fact]
    public void Record_ResponseAfterThreeHours_IsRecordedAsThreeHoursNotAsOneMicrosecond()
    {
        // --timeout takes up to 24h and the histogram covers 25h, but ticks * 1_000_000 overflowed a long past about
        // 2.56 h (ticks are nanoseconds on Linux): the latency went negative and was clamped to 1 µs, a slow response
        // reported as the fastest.
        var stats = new StepStats("s");
        var threeHours = (long)TimeSpan.FromHours(3).TotalSeconds * Stopwatch.Frequency;

        stats.Record(Response.Ok("200"), threeHours);

        stats.Ok.DrainInterval();
        Assert.Equal((long)TimeSpan.FromHours(3).TotalMicroseconds, stats.Ok.MinMicros);
    }
}
