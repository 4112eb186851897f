namespace Edge.Audit.Shipping;

public sealed record ShipperOptions
{
    /// <summary>
    /// The writers' base addresses (Edge:Audit:WriterUrl, <c>;</c>-separated), in the order they are tried. The shipper
    /// stays on one writer while it acknowledges and moves to the next on a transport failure, a 5xx or a standby answer.
    /// </summary>
    public IReadOnlyList<Uri> WriterUrls { get; init; } = [];

    /// <summary>A single writer: the same as <see cref="WriterUrls"/> with one entry.</summary>
    public Uri WriterUrl
    {
        get => WriterUrls[0];
        init => WriterUrls = [value];
    }

    /// <summary>The writer's ingest bearer token (already resolved from its secret reference), or null.</summary>
    public string? IngestToken { get; init; }

    public int MaxBatchRecords { get; init; } = 2000;

    /// <summary>
    /// After a partial batch (the spool was drained), how long records gather before the next post. Each post costs
    /// the writer an HTTP request, a transaction and a commit, so a trickle of tiny batches cost it far more per record
    /// than the records themselves. Responses never wait for shipping; only the writer sees records this much later.
    /// 250 ms: at 1,000 requests a second a 50 ms window made batches of 50, and each commit dirtied the tail pages of
    /// the writer's tenant, route and decision indexes (about 75 pages, one per distinct value) for those 50 records;
    /// batches of 250 cut the writer's CPU per record by about 40% (load/results/profile.md, sessions 18 and 19).
    /// Kong's log queues and Envoy's access-log flush wait up to 1 s.
    /// </summary>
    public TimeSpan ShipInterval { get; init; } = DefaultShipInterval;

    /// <summary>The default of <see cref="ShipInterval"/>, also the edge's <c>Edge:Audit:ShipInterval</c> default.</summary>
    public static readonly TimeSpan DefaultShipInterval = TimeSpan.FromMilliseconds(250);

    public int MaxBatchBytes { get; init; } = 2 * 1024 * 1024;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the spool must stay idle, every record acknowledged, before the shipper deletes its active segment
    /// (<see cref="Spool.AuditSpool.DeleteAcknowledged"/>). Not at every acknowledgement: each deletion costs the next
    /// append a new segment file (created, its blocks reserved, mapped) on a request's path.
    /// </summary>
    public TimeSpan IdleSpoolDeleteAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The pause after every writer failed once in a row; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Told of each record set aside after a writer refused it, once it is in the quarantine folder and the ack mark is
    /// past it (the edge appends an audit record of it, so the writer's log says what it does not hold).
    /// </summary>
    public Action<QuarantinedRecord>? Quarantined { get; init; }
}
