namespace Edge.Proxy.Auditing;

/// <summary>The <c>Edge:Audit</c> host settings.</summary>
internal sealed record EdgeAuditOptions
{
    public const string SectionName = "Edge:Audit";

    /// <summary>
    /// The audit writer's base address, or several separated by <c>;</c> (tried in order; see <see cref="AuditWriterUrls"/>).
    /// Absent: decisions go to <see cref="LocalFile"/> (embedded mode).
    /// </summary>
    public string? WriterUrl { get; init; }

    /// <summary>
    /// Without a writer: the NDJSON file decision records are appended to off the request path (relative paths resolve
    /// against the working directory). Empty: records are only logged, at Debug.
    /// </summary>
    public string? LocalFile { get; init; } = "audit-decisions.ndjson";

    /// <summary>Without a writer: records queued for <see cref="LocalFile"/> at most; beyond that they are dropped and counted.</summary>
    public int LocalQueueCapacity { get; init; } = 65_536;

    /// <summary>
    /// Without a writer: after a write, how long records gather before the next write and flush of <see cref="LocalFile"/>;
    /// zero or less writes as soon as records arrive.
    /// </summary>
    public TimeSpan LocalFlushInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Secret reference (<c>env:NAME</c> or <c>file:/path</c>) of the writer's ingest token (Writer:IngestToken).</summary>
    public string? IngestToken { get; init; }

    /// <summary>The spool directory; relative paths resolve against the working directory.</summary>
    public string SpoolPath { get; init; } = "audit-spool";

    /// <summary>The spool size cap; at the cap Required routes answer 503 and Optional routes drop (counted, logged).</summary>
    public long SpoolMaxBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Group commit window of the spool's fsync: the most a power cut can take of answered requests (ProcessCrash), or how
    /// long appends gather before the fsync their responses wait for (PowerLoss). Unset: 100 ms with ProcessCrash, 2 ms
    /// with PowerLoss (<see cref="Edge.Audit.Spool.SpoolOptions.DefaultCommitInterval"/>).
    /// </summary>
    public TimeSpan? SpoolCommitInterval { get; init; }

    /// <summary>
    /// <c>ProcessCrash</c> (default): the record is written before the response starts and fsynced within the commit
    /// interval. <c>PowerLoss</c>: every response also waits for the fsync covering its record.
    /// </summary>
    public Edge.Audit.Spool.SpoolDurability SpoolDurability { get; init; } = Edge.Audit.Spool.SpoolDurability.ProcessCrash;

    /// <summary>After a partial batch, how long records gather in the spool before the next post to the writer.</summary>
    public TimeSpan ShipInterval { get; init; } = Edge.Audit.Shipping.ShipperOptions.DefaultShipInterval;

    /// <summary>How long graceful shutdown waits for the writer to acknowledge the spool.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
