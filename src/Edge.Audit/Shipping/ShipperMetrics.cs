using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Edge.Audit.Spool;

namespace Edge.Audit.Shipping;

/// <summary>
/// Which writer the shipper sends to, and how often it moved on, on the <c>Edge.Audit</c> meter
/// (Prometheus names: edge_audit_writer_current, 1 for the current writer and 0 for the others;
/// edge_audit_writer_failovers_total by the writer left behind and the reason).
/// </summary>
internal sealed class ShipperMetrics : IDisposable
{
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _failovers;

    public ShipperMetrics(IReadOnlyList<string> writerLabels, Func<int> currentWriter, IMeterFactory? meterFactory)
    {
        // A factory's meter is shared with the spool's instruments and disposed by the factory; only an own one is ours.
        var meter = meterFactory?.Create(SpoolMetrics.MeterName) ?? (_ownedMeter = new Meter(SpoolMetrics.MeterName));
        meter.CreateObservableGauge("edge.audit.writer.current", () => CurrentMeasurements(writerLabels, currentWriter()), unit: null,
            description: "1 for the audit writer the shipper currently sends to, 0 for the other configured writers.");
        _failovers = meter.CreateCounter<long>("edge.audit.writer.failovers",
            description: "Times the shipper moved from a writer to the next one (transport failure, 5xx or writer_standby).");
    }

    public void Failover(string writer, string reason)
    {
        if (_failovers.Enabled)
        {
            AddFailover(writer, reason);
        }
    }

    public void Dispose() => _ownedMeter?.Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AddFailover(string writer, string reason)
    {
        var tags = new TagList { { "writer", writer }, { "reason", reason } };
        _failovers.Add(1, tags);
    }

    private static IEnumerable<Measurement<int>> CurrentMeasurements(IReadOnlyList<string> writerLabels, int current)
    {
        for (var i = 0; i < writerLabels.Count; i++)
        {
            yield return new Measurement<int>(i == current ? 1 : 0, new KeyValuePair<string, object?>("writer", writerLabels[i]));
        }
    }
}
