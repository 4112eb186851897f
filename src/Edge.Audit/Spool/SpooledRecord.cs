namespace Edge.Audit.Spool;

/// <summary>One durable record read back from the spool.</summary>
public sealed record SpooledRecord(long Sequence, DateTimeOffset AppendedAt, byte[] Payload);
