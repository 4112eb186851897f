using System.Diagnostics.Metrics;
using Edge.AuditWriter.Hosting;

namespace Edge.AuditWriter.Retention;

/// <summary>
/// The writer's data-lifecycle instruments on the <c>Edge.AuditWriter</c> meter: retention runs (by result), records
/// pruned, subject keys shredded, records made unreadable by erasure, and refused erasures past the per-caller limit.
/// </summary>
internal sealed class RetentionMetrics
{
    private readonly Counter<long> _runs;
    private readonly Counter<long> _pruned;
    private readonly Counter<long> _shredded;
    private readonly Counter<long> _erased;
    private readonly Counter<long> _refusalsUnrecorded;

    public RetentionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(WriterMeter.Name);
        _runs = meter.CreateCounter<long>("edge.audit.retention.runs", description: "Retention runs by result (applied, failed).");
        _pruned = meter.CreateCounter<long>("edge.audit.retention.pruned", description: "Records pruned to their leaf hash by retention.");
        _shredded = meter.CreateCounter<long>("edge.audit.retention.subjects.shredded", description: "Subject data keys deleted by retention.");
        _erased = meter.CreateCounter<long>("edge.audit.erasure.records", description: "Records whose subject became unreadable by erasure requests.");
        _refusalsUnrecorded = meter.CreateCounter<long>("edge.audit.erasure.refusals.unrecorded",
            description: "Refused erasure requests answered 429 past a caller's recorded refusals per minute, counted here instead of recorded one by one.");

        // A counter is exported only once it has a measurement: the failed series appeared at 1 with the first failed run,
        // increase() saw no rise from nothing, and EdgeAuditRetentionFailing stayed silent for that run.
        foreach (var result in (string[])["applied", "failed"])
        {
            _runs.Add(0, new KeyValuePair<string, object?>("result", result));
        }

        _pruned.Add(0);
        _shredded.Add(0);
        _erased.Add(0);
        _refusalsUnrecorded.Add(0);
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

    public void RefusalUnrecorded() => _refusalsUnrecorded.Add(1);
}
