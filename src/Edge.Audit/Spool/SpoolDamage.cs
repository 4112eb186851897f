namespace Edge.Audit.Spool;

/// <summary>
/// A segment found damaged at start: from <paramref name="Offset"/> on, <paramref name="Bytes"/> bytes do not read back as
/// frames (the last frame before them has <paramref name="AfterSequence"/>). <paramref name="Kept"/>: the bytes stay in
/// the segment (not the last one: records follow) and shipping stops there; otherwise they were cut (the last segment's
/// tail, which held more than the zeros a crash leaves).
/// </summary>
public sealed record SpoolDamage(string Segment, long Offset, long Bytes, long AfterSequence, bool Kept);
