namespace Edge.Audit.Spool;

/// <summary>
/// Records the start found missing: in <paramref name="Segment"/>, where a frame with <paramref name="FoundSequence"/>
/// (or, after a torn tail, the next record written) follows, no record from <paramref name="ExpectedSequence"/> up to it
/// is in the spool (a segment moved out or cut while the edge was stopped, damaged frames, a torn tail). Shipping goes
/// on past it: see <see cref="SpoolSegmentSet.IsKnownLost"/>.
/// </summary>
public sealed record SpoolGap(string Segment, long ExpectedSequence, long FoundSequence);
