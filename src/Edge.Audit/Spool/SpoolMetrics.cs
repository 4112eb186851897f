using System.Diagnostics.Metrics;

namespace Edge.Audit.Spool;

/// <summary>
/// Spool counters, readable directly and published on the <c>Edge.Audit</c> meter
/// (Prometheus names: edge_audit_spool_bytes, edge_audit_oldest_unacked_seconds, edge_audit_shipped_total, edge_audit_dropped_total,
/// edge_audit_quarantined_total, edge_audit_spool_lost_total).
/// </summary>
public sealed class SpoolMetrics : IDisposable
{
    public const string MeterName = "Edge.Audit";

    private readonly Meter _meter;
    private long _droppedTotal;
    private long _shippedTotal;
    private long _quarantinedTotal;
    private long _lostTotal;

    internal SpoolMetrics(Func<long> bytes, Func<double> oldestUnackedSeconds, Func<long> writeFailures, IMeterFactory? meterFactory)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        BytesProvider = bytes;
        OldestProvider = oldestUnackedSeconds;
        _meter.CreateObservableGauge("edge.audit.spool.bytes", () => bytes(), unit: null, description: "Bytes held in the audit spool.");
        _meter.CreateObservableGauge("edge.audit.oldest.unacked.seconds", () => oldestUnackedSeconds(), unit: null,
            description: "Age of the oldest spooled record the writer has not acknowledged.");
        // Observable counters, so both series are exported (at 0) from the start and alerts can rely on them.
        _meter.CreateObservableCounter("edge.audit.shipped", () => Shipped, description: "Audit records acknowledged by the writer.");
        _meter.CreateObservableCounter("edge.audit.dropped", () => Dropped,
            description: "Audit records lost because the spool was at its cap (optional routes and security events).");
        _meter.CreateObservableCounter("edge.audit.quarantined", () => Quarantined,
            description: "Audit records a writer refused as a record (record_too_large, invalid_record), kept in the spool's quarantine folder instead of shipped.");
        _meter.CreateObservableCounter("edge.audit.spool.lost", () => Lost,
            description: "Audit records the spool's start found missing (a gap between segments, damaged frames, a torn tail) and shipped past; their loss is an audit record of its own (dev.edge.audit.spool.lost.v1).");
        _meter.CreateObservableCounter("edge.audit.spool.write.failures", writeFailures,
            description: "Writes and fsyncs of the audit spool that failed (a full disk, a removed spool directory, a disk error); audit-required routes answer 503 while writes fail.");
    }

    private Func<long> BytesProvider { get; }

    private Func<double> OldestProvider { get; }

    public long Bytes => BytesProvider();

    public TimeSpan OldestUnackedAge => TimeSpan.FromSeconds(OldestProvider());

    public long Shipped => Interlocked.Read(ref _shippedTotal);

    public long Dropped => Interlocked.Read(ref _droppedTotal);

    public long Quarantined => Interlocked.Read(ref _quarantinedTotal);

    /// <summary>Records the start found missing: gaps, damaged frames, a torn tail (<see cref="AuditSpool.RecoveryGaps"/>).</summary>
    public long Lost => Interlocked.Read(ref _lostTotal);

    internal void AddShipped(long count)
    {
        Interlocked.Add(ref _shippedTotal, count);
    }

    internal void AddLost(long count)
    {
        Interlocked.Add(ref _lostTotal, count);
    }

    internal void AddQuarantined(long count)
    {
        Interlocked.Add(ref _quarantinedTotal, count);
    }

    /// <summary>A drop that the caller accounts for (an optional route ran unaudited).</summary>
    public void AddDropped()
    {
        Interlocked.Increment(ref _droppedTotal);
    }

    public void Dispose() => _meter.Dispose();
}
