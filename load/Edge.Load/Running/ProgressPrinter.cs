using System.Globalization;
using Edge.Load.Reporting;
using Edge.Load.Stats;

namespace Edge.Load.Running;

/// <summary>Live progress, one line per scenario per sample interval.</summary>
internal sealed class ProgressPrinter(TextWriter? writer)
{
    private readonly Lock _lock = new();

    public void Line(string text)
    {
        if (writer is null)
        {
            return;
        }

        lock (_lock)
        {
            writer.WriteLine(text);
            writer.Flush();
        }
    }

    public void Point(string scenario, TimeSeriesPoint point, ScenarioStats stats, string phase) =>
        Line(string.Create(CultureInfo.InvariantCulture,
            $"[{point.ElapsedSeconds,6:0.0}s] {scenario,-16} ok={stats.Global.Ok.Count,-9} fail={stats.Global.Fail.Count,-7} ok-rps={point.OkRps,8:0.0} fail-rps={point.FailRps,8:0.0}  p50={Ms(point.P50Ms)} p99={Ms(point.P99Ms)}  in-flight={point.InFlight,-5} {phase}"));

    // An interval without ok responses has no latency; 0.00ms would read as a very fast server.
    private static string Ms(double? value) => value is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v,7:0.00}ms") : "      -  ";
}
