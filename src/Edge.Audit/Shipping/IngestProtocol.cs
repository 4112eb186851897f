namespace Edge.Audit.Shipping;

/// <summary>The edge→writer ingest contract: POST an NDJSON batch, get <c>{"acked": seq}</c> after the durable commit.</summary>
public static class IngestProtocol
{
    public const string Path = "/audit/ingest";

    public const string ContentType = "application/x-ndjson";

    /// <summary>The spool sequence of the batch's last record; the writer echoes it as the cumulative ack.</summary>
    public const string LastSequenceHeader = "Edge-Audit-Last-Sequence";

    /// <summary>
    /// The <c>code</c> of the writer's 413 for one record over Writer:MaxRecordBytes. Smaller batches cannot help it (the
    /// batch's own cap, <c>batch_too_large</c>, can), so the shipper narrows the batch down to that record and quarantines it.
    /// </summary>
    public const string RecordTooLargeCode = "record_too_large";

    /// <summary>
    /// The <c>code</c> of the writer's 503 when it holds Writer:MaxConcurrentIngests batches already: the writer is the
    /// sequencer and only busy, so the shipper sends the same batch to it again after its backoff instead of moving on.
    /// </summary>
    public const string BusyCode = "ingest_busy";

    /// <summary>The <c>code</c> of the writer's 400 for a record it does not take (its line named in the detail).</summary>
    public const string InvalidRecordCode = "invalid_record";
}
