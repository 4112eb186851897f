namespace Edge.Audit.Spool;

/// <summary>
/// A segment found damaged at start: from <paramref name="Offset"/> on, <paramref name="Bytes"/> bytes do not read back as
/// frames (the last frame before them has <paramref name="AfterSequence"/>, 0 when none in the segment).
/// <paramref name="Kept"/>: a frame that reads back follows, so the bytes stay in the segment and the reader skips them;
/// otherwise they were cut (the segment's tail, which held more than the zeros a crash leaves). The records they held
/// are reported as <see cref="SpoolGap"/>s.
/// </summary>
public sealed record SpoolDamage(string Segment, long Offset, long Bytes, long AfterSequence, bool Kept);
