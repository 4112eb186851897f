using System.Diagnostics.Metrics;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;

namespace Edge.AuditWriter.Ingest;

/// <summary>
/// The writer's ingest instruments on the <c>Edge.AuditWriter</c> meter: batches by result, new records stored, and the
/// append transactions that stored them. Batches that arrive while another commits share its transaction, so batches
/// stored ÷ commits shows how much the edges' posts share.
/// </summary>
internal sealed class IngestMetrics
{
    private readonly Counter<long> _batches;
    private readonly Counter<long> _records;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _busy;

    public IngestMetrics(IMeterFactory meterFactory, AuditLog log)
    {
        var meter = meterFactory.Create(WriterMeter.Name);
        _batches = meter.CreateCounter<long>("edge.audit.ingest.batches",
            description: "Ingest requests by result (stored; refused: a 4xx answer; unavailable: a 5xx answer, to be retried).");
        _records = meter.CreateCounter<long>("edge.audit.ingest.records", description: "New records stored by ingest (replayed ids are not counted).");
        _duplicates = meter.CreateCounter<long>("edge.audit.ingest.duplicates",
            description: "Records acknowledged but not stored because a stored record (or an earlier line of the batch) has their id: a shipper's retry, or another record reusing an id.");
        _busy = meter.CreateCounter<long>("edge.audit.ingest.busy",
            description: "Ingest requests answered 503 ingest_busy (Writer:MaxConcurrentIngests batches held already); also counted as unavailable batches.");
        meter.CreateObservableCounter("edge.audit.ingest.commits", () => log.GroupCommits,
            description: "Append transactions committed for ingest; batches that arrive together share one.");

        // A counter is exported only once it has a measurement: without these, the series appeared with the first batch,
        // so rate() had nothing to start from and an absent() alert fired on every new writer.
        foreach (var result in (string[])["stored", "refused", "unavailable"])
        {
            _batches.Add(0, new KeyValuePair<string, object?>("result", result));
        }

        _records.Add(0);
        _duplicates.Add(0);
        _busy.Add(0);
    }

    public void Answered(int statusCode)
    {
        if (_batches.Enabled)
        {
            var result = statusCode < 300 ? "stored" : statusCode < 500 ? "refused" : "unavailable";
            _batches.Add(1, new KeyValuePair<string, object?>("result", result));
        }
    }

    public void Stored(int records, int duplicates)
    {
        _records.Add(records);
        if (duplicates > 0)
        {
            _duplicates.Add(duplicates);
        }
    }

    public void Busy() => _busy.Add(1);
}
