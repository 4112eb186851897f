using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Edge.Load.Reporting;
using Edge.Load.Scenarios;

namespace Edge.Load.Stats;

/// <summary>All statistics of one scenario run: the scenario as a whole, its sub-steps and a per-interval time series.</summary>
internal sealed class ScenarioStats
{
    /// <summary>The name under which whole-scenario statistics are reported.</summary>
    public const string GlobalStepName = "global";

    private readonly ConcurrentDictionary<string, StepStats> _steps = new(StringComparer.Ordinal);
    private static readonly Response Unfinished = Response.Fail("unfinished", message: "still in flight when the run ended");

    private readonly ConcurrentDictionary<Version, StrongBox<long>> _versions = new();
    private readonly List<TimeSeriesPoint> _series = [];
    private readonly Lock _completion = new();
    private bool _closed;
    private long _inFlight;
    private long _sent;
    private long _maxDispatchLagTicks;
    private long _lateDispatches;
    private long _lastOkTimestamp;
    private double _lastSampleSeconds;

    // The last point's own histograms, so a short final tail can be folded into it exactly.
    private readonly HdrHistogram.HistogramBase _pointOk = OutcomeStats.NewHistogram();
    private readonly HdrHistogram.HistogramBase _pointFail = OutcomeStats.NewHistogram();
    private double _pointStartSeconds;

    public StepStats Global { get; } = new(GlobalStepName);

    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Invocations started (dispatched, in the open model); each ends as exactly one ok or fail.</summary>
    public long Sent => Interlocked.Read(ref _sent);

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

    public void Started()
    {
        Interlocked.Increment(ref _sent);
        Interlocked.Increment(ref _inFlight);
    }

    /// <summary>Records a whole invocation's outcome and leaves the in-flight count, unless the run was already closed.</summary>
    public void Completed(Response response, long elapsedTicks, bool countVersion = true)
    {
        lock (_completion)
        {
            if (!_closed)
            {
                Global.Record(response, elapsedTicks);
                if (countVersion)
                {
                    CountVersion(response);
                }

                if (response.IsOk)
                {
                    _lastOkTimestamp = Stopwatch.GetTimestamp();
                }
            }

            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// Records a sub-step's outcome unless the run was closed: a step of an invocation that outlived the drain used to be
    /// added to the step's counters and status codes after the final sample had drained its histogram, so the step's
    /// status-code table no longer added up to its count.
    /// </summary>
    public void CompletedStep(string name, Response response, long elapsedTicks)
    {
        var step = Step(name);
        lock (_completion)
        {
            if (!_closed)
            {
                step.Record(response, elapsedTicks);
                CountVersion(response);
            }
        }
    }

    /// <summary>
    /// Ends the run's recording: every invocation still in flight is recorded now as a failure with status
    /// <c>unfinished</c> and <paramref name="waitedTicks"/> as its latency (a lower bound), and one that completes later is
    /// not recorded. Without this an invocation that outlived the drain was in neither count, and a hanging server could
    /// pass <c>fail% &lt; 1</c> with nothing answered. Returns how many were unfinished.
    /// </summary>
    public long Close(long waitedTicks)
    {
        lock (_completion)
        {
            _closed = true;
            var unfinished = Interlocked.Read(ref _inFlight);
            for (var i = 0; i < unfinished; i++)
            {
                Global.Record(Unfinished, waitedTicks);
            }

            return unfinished;
        }
    }

    private void CountVersion(Response response)
    {
        if (response.Version is { } version)
        {
            Interlocked.Increment(ref _versions.GetOrAdd(version, static _ => new StrongBox<long>()).Value);
        }
    }

    /// <summary>
    /// HTTP responses by the version they came back on: each sub-step's, or the invocation's own when it ran no sub-steps.
    /// Most first.
    /// </summary>
    public IReadOnlyList<KeyValuePair<Version, long>> Versions() =>
        [.. _versions.Select(static p => KeyValuePair.Create(p.Key, Interlocked.Read(ref p.Value.Value))).OrderByDescending(static p => p.Value).ThenByDescending(static p => p.Key)];

    /// <summary>When the last ok response was recorded (a <see cref="Stopwatch"/> timestamp; 0 before the first).</summary>
    public long LastOkTimestamp
    {
        get
        {
            lock (_completion)
            {
                return _lastOkTimestamp;
            }
        }
    }

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
    /// Drains every recorder into its total and appends one time-series point. An interval shorter than
    /// <paramref name="minPointSeconds"/> (the final tail) is folded into the last point instead, which then covers both:
    /// as a point of its own it charted as a spike, and left out, the series no longer added up to the totals. Called from
    /// one sampling loop only.
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

        var interval = Math.Max(elapsedSeconds - _lastSampleSeconds, 1e-9);
        var newPoint = interval >= minPointSeconds || _series.Count < 2; // a chart needs two points
        if (newPoint)
        {
            _pointOk.Reset();
            _pointFail.Reset();
            _pointStartSeconds = _lastSampleSeconds;
        }
        else
        {
            _series.RemoveAt(_series.Count - 1);
        }

        _pointOk.Add(ok);
        _pointFail.Add(fail);
        _lastSampleSeconds = elapsedSeconds;
        var seconds = Math.Max(elapsedSeconds - _pointStartSeconds, 1e-9);
        var point = new TimeSeriesPoint
        {
            ElapsedSeconds = elapsedSeconds,
            OkCount = _pointOk.TotalCount,
            FailCount = _pointFail.TotalCount,
            OkRps = _pointOk.TotalCount / seconds,
            FailRps = _pointFail.TotalCount / seconds,
            P50Ms = _pointOk.TotalCount == 0 ? null : _pointOk.GetValueAtPercentile(50) / 1000.0,
            P99Ms = _pointOk.TotalCount == 0 ? null : _pointOk.GetValueAtPercentile(99) / 1000.0,
            MaxMs = _pointOk.TotalCount == 0 ? null : HdrHistogram.HistogramExtensions.GetMaxValue(_pointOk) / 1000.0,
            InFlight = InFlight,
        };
        _series.Add(point);
        return point;
    }
}
