using System.Diagnostics.Metrics;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Retention;

/// <summary>
/// The writer's data-lifecycle instruments on the <c>Edge.AuditWriter</c> meter: retention runs (by result), records
/// pruned, subject keys shredded, and records made unreadable by erasure.
/// </summary>
internal sealed class RetentionMetrics
{
    private readonly Counter<long> _runs;
    private readonly Counter<long> _pruned;
    private readonly Counter<long> _shredded;
    private readonly Counter<long> _erased;

    public RetentionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(WriterMeter.Name);
        _runs = meter.CreateCounter<long>("edge.audit.retention.runs", description: "Retention runs by result (applied, failed).");
        _pruned = meter.CreateCounter<long>("edge.audit.retention.pruned", description: "Records pruned to their leaf hash by retention.");
        _shredded = meter.CreateCounter<long>("edge.audit.retention.subjects.shredded", description: "Subject data keys deleted by retention.");
        _erased = meter.CreateCounter<long>("edge.audit.erasure.records", description: "Records whose subject became unreadable by erasure requests.");
    }

    public void RunApplied(long pruned, long shredded)
    {
        if (_runs.Enabled)
        {
            _runs.Add(1, new KeyValuePair<string, object?>("result", "applied"));
        }

        _pruned.Add(pruned);
        _shredded.Add(shredded);
    }

    public void RunFailed()
    {
        if (_runs.Enabled)
        {
            _runs.Add(1, new KeyValuePair<string, object?>("result", "failed"));
        }
    }

    public void Erased(long records) => _erased.Add(records);
}
