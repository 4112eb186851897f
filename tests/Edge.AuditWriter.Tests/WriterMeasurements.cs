using System.Diagnostics.Metrics;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Tests;

/// <summary>
/// Sums of one writer's <c>Edge.AuditWriter</c> counters (its IMeterFactory is the meters' scope, so writers of other
/// tests running at the same time are not counted), in total and by their <c>result</c> tag, and the latest value of
/// its observable counters. (The writer's <c>/metrics</c> scrape is no place for exact values in tests: OpenTelemetry
/// listens to every meter of that name in the process, so it sums the writers of tests running alongside.)
/// </summary>
internal sealed class WriterMeasurements : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _sums = [];
    private readonly Dictionary<string, long> _observed = [];

    public WriterMeasurements(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == WriterMeter.Name && ReferenceEquals(instrument.Meter.Scope, factory)
                && instrument is Counter<long> or ObservableCounter<long>)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? result = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "result")
                {
                    result = tag.Value as string;
                }
            }

            lock (_sums)
            {
                if (instrument is ObservableCounter<long>)
                {
                    _observed[instrument.Name] = value;
                    return;
                }

                _sums[instrument.Name] = _sums.GetValueOrDefault(instrument.Name) + value;
                if (result is not null)
                {
                    _sums[$"{instrument.Name}|{result}"] = _sums.GetValueOrDefault($"{instrument.Name}|{result}") + value;
                }
            }
        });
        _listener.Start();
    }

    public long Sum(string name)
    {
        lock (_sums)
        {
            return _sums.GetValueOrDefault(name);
        }
    }

    public long Sum(string name, string result) => Sum($"{name}|{result}");

    /// <summary>An observable counter's value now.</summary>
    public long Observed(string name)
    {
        _listener.RecordObservableInstruments();
        lock (_sums)
        {
            return _observed.GetValueOrDefault(name);
        }
    }

    public void Dispose() => _listener.Dispose();
}
