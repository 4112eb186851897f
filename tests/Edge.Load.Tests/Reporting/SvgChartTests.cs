using System.Text.RegularExpressions;
using Edge.Load.Reporting;

namespace Edge.Load.Tests.Reporting;

public sealed partial class SvgChartTests
{
    [Theory]
    [InlineData(10.004, 0.02, 10)]
    [InlineData(10.2, 0.02, 10)]
    [InlineData(10.3, 0.02, 20)]
    [InlineData(9.9, 0.02, 10)]
    [InlineData(1.0, 0.02, 1)]
    [InlineData(0.5, 0.02, 0.5)]
    [InlineData(42, 0.02, 50)]
    [InlineData(10.004, 0, 20)]
    [InlineData(250, 0, 250)]
    public void NiceCeiling_Value_RoundsUpToOneTwoTwoAndAHalfOrFiveTimesAPowerOfTen(double value, double tolerance, double expected)
    {
        Assert.Equal(expected, SvgChart.NiceCeiling(value, tolerance), precision: 9);
    }

    [Fact]
    public void Render_LastSampleMillisecondsPastARoundEnd_TimeAxisEndsAtTheRoundEnd()
    {
        // A 10 s run's samples: the last one is taken a few milliseconds after the run's end.
        var points = Enumerable.Range(1, 9).Select(static s => ((double)s, 100.0)).Append((10.004, 100.0)).ToList();

        var svg = SvgChart.Render("rps-0", "RPS over time", "seconds", "requests/s", [new SvgChart.Series("ok", "#2ca02c", points)]);

        var xTicks = XTick().Matches(svg).Select(static m => m.Groups[1].Value).ToList();
        Assert.Equal(["0", "2.5", "5", "7.5", "10"], xTicks);
        var lastX = double.Parse(Points().Match(svg).Groups[1].Value.Split(' ')[^1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(700, lastX); // the plot's right edge (width 720 less the 20 px margin), not its middle
    }

    [Fact]
    public void Render_AxisEndingAtTwoAndAHalf_TickLabelsAreTheGridValuesNotRoundedOnes()
    {
        // A 0.076 s run's time axis ends at 0.1: its ticks were labelled 0.03 and 0.08 at 0.025 and 0.075, and a y axis
        // ending at 2.5 labelled 1.875 as 1.88.
        var svg = SvgChart.Render("latency-0", "Latency over time (ok responses)", "seconds", "ms", [new SvgChart.Series("p99", "#ff7f0e", [(0.02, 1.0), (0.076, 2.4)])]);

        Assert.Equal(["0", "0.025", "0.05", "0.075", "0.1"], XTick().Matches(svg).Select(static m => m.Groups[1].Value));
        Assert.Equal(["0", "0.625", "1.25", "1.875", "2.5"], YTick().Matches(svg).Select(static m => m.Groups[1].Value));
    }

    [GeneratedRegex("<text x=\"54\" y=\"[0-9.]+\" text-anchor=\"end\" class=\"tick\">([^<]+)</text>")]
    private static partial Regex YTick();

    [Fact]
    public void Render_SeriesWithOnePoint_DrawsAVisibleMarker()
    {
        // A run shorter than the sample interval (inject:rate=1,during=1s) has one time-series point: a polyline of one
        // point has no length and a browser draws nothing, so both charts of its report were empty.
        var svg = SvgChart.Render("latency-0", "Latency over time (ok responses)", "seconds", "ms", [new SvgChart.Series("p99", "#ff7f0e", [(0.5, 62.5)])]);

        var marker = Marker().Match(svg);
        Assert.True(marker.Success, "no marker for the series' only point: " + svg);
        Assert.Equal("p99", marker.Groups[1].Value);
        Assert.True(double.Parse(marker.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [GeneratedRegex("<circle class=\"series\" data-series=\"([^\"]+)\"[^>]* r=\"([0-9.]+)\"")]
    private static partial Regex Marker();

    [GeneratedRegex("<text x=\"[0-9.]+\" y=\"236\" text-anchor=\"middle\" class=\"tick\">([^<]+)</text>")]
    private static partial Regex XTick();

    [GeneratedRegex("points=\"([^\"]+)\"")]
    private static partial Regex Points();
}
