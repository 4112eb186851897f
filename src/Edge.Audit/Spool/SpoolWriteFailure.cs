namespace Edge.Audit.Spool;

/// <summary>A write to the spool that failed: when, and the operating system's message (a path, never a record).</summary>
public sealed record SpoolWriteFailure(DateTimeOffset At, string Message);
