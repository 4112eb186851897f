using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.FunctionalTests.Webhooks;

/// <summary>
/// Records the counters of one edge's own meter. Tests run several edges in one process, and a Prometheus scrape
/// filters meters by name, so positive metric assertions listen to this host's meter instance instead.
/// </summary>
internal sealed class EdgeCounterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, Dictionary<string, string?> Tags)> _measurements = new();

    public EdgeCounterRecorder(EdgeHost edge)
    {
        var meter = edge.Services.GetRequiredService<EdgeMetrics>().Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            var map = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value?.ToString();
            }

            _measurements.Enqueue((instrument.Name, map));
        });
        _listener.Start();
    }

    public IReadOnlyList<(string Instrument, Dictionary<string, string?> Tags)> Measurements => _measurements.ToList();

    public void Dispose() => _listener.Dispose();
}
