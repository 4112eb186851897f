namespace Edge.Audit.Spool;

/// <summary>
/// A gap the start found between the ack mark or one segment's last frame and the next segment's first frame:
/// <paramref name="Segment"/> starts at <paramref name="FoundSequence"/>, and no record from
/// <paramref name="ExpectedSequence"/> up to it is in the spool. Shipping goes on past it: see <see cref="SpoolSegment.MissingFrom"/>.
/// </summary>
public sealed record SpoolGap(string Segment, long ExpectedSequence, long FoundSequence);
