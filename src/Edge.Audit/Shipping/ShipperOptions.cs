namespace Edge.Audit.Shipping;

public sealed record ShipperOptions
{
    /// <summary>The writer's base address (Edge:Audit:WriterUrl).</summary>
    public required Uri WriterUrl { get; init; }

    /// <summary>The writer's ingest bearer token (already resolved from its secret reference), or null.</summary>
    public string? IngestToken { get; init; }

    public int MaxBatchRecords { get; init; } = 2000;

    /// <summary>
    /// After a partial batch (the spool was drained), how long records gather before the next post. Each post costs
    /// the writer an HTTP request, a transaction and a commit, so a trickle of tiny batches cost it far more per record
    /// than the records themselves. Responses never wait for shipping; only the writer sees records this much later.
    /// </summary>
    public TimeSpan ShipInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    public int MaxBatchBytes { get; init; } = 2 * 1024 * 1024;

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);
}
