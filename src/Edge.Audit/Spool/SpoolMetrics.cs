using System.Diagnostics.Metrics;

namespace Edge.Audit.Spool;

/// <summary>
/// Spool counters, readable directly and published on the <c>Edge.Audit</c> meter
/// (Prometheus names: edge_audit_spool_bytes, edge_audit_oldest_unacked_seconds, edge_audit_shipped_total, edge_audit_dropped_total).
/// </summary>
public sealed class SpoolMetrics : IDisposable
{
    public const string MeterName = "Edge.Audit";

    private readonly Meter _meter;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _shipped;
    private long _droppedTotal;
    private long _shippedTotal;

    internal SpoolMetrics(Func<long> bytes, Func<double> oldestUnackedSeconds, IMeterFactory? meterFactory)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        BytesProvider = bytes;
        OldestProvider = oldestUnackedSeconds;
        _meter.CreateObservableGauge("edge.audit.spool.bytes", () => bytes(), unit: null, description: "Bytes held in the audit spool.");
        _meter.CreateObservableGauge("edge.audit.oldest.unacked.seconds", () => oldestUnackedSeconds(), unit: null,
            description: "Age of the oldest spooled record the writer has not acknowledged.");
        _shipped = _meter.CreateCounter<long>("edge.audit.shipped", description: "Audit records acknowledged by the writer.");
        _dropped = _meter.CreateCounter<long>("edge.audit.dropped", description: "Audit records refused by the spool (cap reached).");
    }

    private Func<long> BytesProvider { get; }

    private Func<double> OldestProvider { get; }

    public long Bytes => BytesProvider();

    public TimeSpan OldestUnackedAge => TimeSpan.FromSeconds(OldestProvider());

    public long Shipped => Interlocked.Read(ref _shippedTotal);

    public long Dropped => Interlocked.Read(ref _droppedTotal);

    internal void AddShipped(long count)
    {
        Interlocked.Add(ref _shippedTotal, count);
        _shipped.Add(count);
    }

    /// <summary>A drop that the caller accounts for (an optional route ran unaudited).</summary>
    public void AddDropped()
    {
        Interlocked.Increment(ref _droppedTotal);
        _dropped.Add(1);
    }

    public void Dispose() => _meter.Dispose();
}
