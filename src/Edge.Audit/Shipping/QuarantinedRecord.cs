namespace Edge.Audit.Shipping;

/// <summary>
/// A record a writer refused as a record and the shipper set aside (<see cref="Spool.AuditSpool.Quarantine"/>):
/// its spool sequence, its <c>id</c> and <c>type</c> when it reads as a record (null otherwise), the writer's problem
/// <c>code</c>, the writer, and the file it is kept in.
/// </summary>
public sealed record QuarantinedRecord(long Sequence, string? RecordId, string? RecordType, string Code, string Writer, string Path);
