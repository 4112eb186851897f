namespace Edge.Audit.Spool;

public sealed record SpoolOptions
{
    /// <summary>The spool directory; created when missing.</summary>
    public required string Directory { get; init; }

    /// <summary>The size cap over all segment files; appends beyond it are refused.</summary>
    public long MaxBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>A segment is closed and a new one started past this size; whole segments are deleted once acknowledged.</summary>
    public long SegmentBytes { get; init; } = 8L * 1024 * 1024;

    /// <summary>
    /// Group commit window: at most one fsync per interval, and an fsync at most this long after the last append.
    /// </summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>When an append completes; see <see cref="SpoolDurability"/>.</summary>
    public SpoolDurability Durability { get; init; } = SpoolDurability.ProcessCrash;
}
