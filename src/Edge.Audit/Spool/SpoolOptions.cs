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
    /// <see cref="SegmentBytes"/>, at most half of <see cref="MaxBytes"/>: only whole segments are freed, so with a cap
    /// below the segment size (Edge:Audit:SpoolMaxBytes=200000) the one segment filled to the cap and stayed after the
    /// writer acknowledged all of it, and audit-required routes answered 503 for good.
    /// </summary>
    public long EffectiveSegmentBytes => Math.Max(1, Math.Min(SegmentBytes, MaxBytes / 2));

    /// <summary>
    /// Group commit window: at most one fsync per interval, and an fsync at most this long after the last append.
    /// Null: the default of <see cref="Durability"/> (<see cref="DefaultCommitInterval"/>).
    /// </summary>
    public TimeSpan? CommitInterval { get; init; }

    /// <summary><see cref="CommitInterval"/>, or the default of <see cref="Durability"/> when it is not set.</summary>
    public TimeSpan EffectiveCommitInterval => CommitInterval ?? DefaultCommitInterval(Durability);

    /// <summary>
    /// Bytes the quarantine folder may hold (records a writer refused, kept beside the spool): a quarter of
    /// <see cref="MaxBytes"/>. Past it a refused record is no longer set aside, and shipping waits at it as it did before
    /// there was a quarantine, so a writer that refuses everything cannot move the spool's records out from under its cap.
    /// </summary>
    public long MaxQuarantineBytes => MaxBytes / 4;

    /// <summary>When an append completes; see <see cref="SpoolDurability"/>.</summary>
    public SpoolDurability Durability { get; init; } = SpoolDurability.ProcessCrash;

    /// <summary>
    /// <see cref="SpoolDurability.PowerLoss"/>: 2 ms, since every response waits for its window's fsync.
    /// <see cref="SpoolDurability.ProcessCrash"/>: 100 ms. No response waits for that fsync; the window only bounds what a
    /// power cut can take, and each fsync costs the edge CPU (and, through the write-protect faults that follow it, the
    /// next appends): at 2 ms the fsync thread was 7.5% of the lease pipeline's CPU at saturation. PostgreSQL's
    /// asynchronous commit and MySQL's <c>innodb_flush_log_at_trx_commit=2</c> bound the same loss at 0.2 to 1 s.
    /// </summary>
    public static TimeSpan DefaultCommitInterval(SpoolDurability durability) =>
        durability == SpoolDurability.PowerLoss ? TimeSpan.FromMilliseconds(2) : TimeSpan.FromMilliseconds(100);
}
