using Edge.Audit.Spool;

namespace Edge.Proxy.Auditing;

/// <summary>Security events into the durable spool the decision records take when a writer is configured.</summary>
internal sealed class SpoolEventAppender(AuditSpool spool) : IAuditEventAppender
{
    public ValueTask<bool> TryAppendAsync(byte[] record, bool admitted = false) => spool.TryAppendAsync(record, admitted);

    public bool HasRoomForEvent => spool.HasRoomFor(SpoolAuditSink.AdmissionReserve);

    public void RecordDropped() => spool.Metrics.AddDropped();
}
