using System.Collections.Concurrent;
using System.Diagnostics;
using Edge.Load.Reporting;

namespace Edge.Load.Stats;

/// <summary>All statistics of one scenario run: the scenario as a whole, its sub-steps and a per-interval time series.</summary>
internal sealed class ScenarioStats
{
    /// <summary>The name under which whole-scenario statistics are reported.</summary>
    public const string GlobalStepName = "global";

    private readonly ConcurrentDictionary<string, StepStats> _steps = new(StringComparer.Ordinal);
    private readonly List<TimeSeriesPoint> _series = [];
    private long _inFlight;
    private long _maxDispatchLagTicks;
    private long _lateDispatches;
    private double _lastSampleSeconds;

    public StepStats Global { get; } = new(GlobalStepName);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public IReadOnlyList<TimeSeriesPoint> Series => _series;

    public TimeSpan MaxDispatchLag => TimeSpan.FromSeconds((double)Interlocked.Read(ref _maxDispatchLagTicks) / Stopwatch.Frequency);

    /// <summary>Open-model invocations dispatched more than 10 ms after their intended time (the generator fell behind).</summary>
    public long LateDispatches => Interlocked.Read(ref _lateDispatches);

    public IEnumerable<StepStats> SubSteps => _steps.Values.OrderBy(static s => s.Name, StringComparer.Ordinal);

    public StepStats Step(string name)
    {
        if (name == GlobalStepName)
        {
            throw new ArgumentException($"'{GlobalStepName}' is reserved for whole-scenario statistics.", nameof(name));
        }

        return _steps.GetOrAdd(name, static n => new StepStats(n));
    }

    public void Started() => Interlocked.Increment(ref _inFlight);

    public void Finished() => Interlocked.Decrement(ref _inFlight);

    public void DispatchLag(long lagTicks)
    {
        if (lagTicks > Stopwatch.Frequency / 100)
        {
            Interlocked.Increment(ref _lateDispatches);
        }

        var max = Interlocked.Read(ref _maxDispatchLagTicks);
        while (lagTicks > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxDispatchLagTicks, lagTicks, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>
    /// Drains every recorder into its total and appends one time-series point, unless the interval since the last point
    /// is shorter than <paramref name="minPointSeconds"/> (a tail that short would chart as a spike). Called from one sampling loop only.
    /// </summary>
    public TimeSeriesPoint Sample(double elapsedSeconds, double minPointSeconds = 0)
    {
        var ok = Global.Ok.DrainInterval();
        var fail = Global.Fail.DrainInterval();
        foreach (var step in _steps.Values)
        {
            step.Ok.DrainInterval();
            step.Fail.DrainInterval();
        }

        var seconds = Math.Max(elapsedSeconds - _lastSampleSeconds, 1e-9);
        var appendPoint = seconds >= minPointSeconds || _series.Count < 2; // a chart needs two points
        _lastSampleSeconds = elapsedSeconds;
        var point = new TimeSeriesPoint
        {
            ElapsedSeconds = elapsedSeconds,
            OkCount = ok.TotalCount,
            FailCount = fail.TotalCount,
            OkRps = ok.TotalCount / seconds,
            FailRps = fail.TotalCount / seconds,
            P50Ms = ok.TotalCount == 0 ? 0 : ok.GetValueAtPercentile(50) / 1000.0,
            P99Ms = ok.TotalCount == 0 ? 0 : ok.GetValueAtPercentile(99) / 1000.0,
            MaxMs = ok.TotalCount == 0 ? 0 : HdrHistogram.HistogramExtensions.GetMaxValue(ok) / 1000.0,
            InFlight = InFlight,
        };
        if (appendPoint)
        {
            _series.Add(point);
        }

        return point;
    }
}
