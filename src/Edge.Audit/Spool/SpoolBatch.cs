namespace Edge.Audit.Spool;

/// <summary>What <see cref="AuditSpool.ReadBatch"/> wrote: how many records, and the sequence of the last (0 when none).</summary>
public readonly record struct SpoolBatch(int Count, long LastSequence);
