namespace Edge.Audit.Spool;

/// <summary>One segment file: the sequence of its first frame, its path, and the bytes of whole frames it holds.</summary>
internal sealed class SpoolSegment(long firstSequence, string path, long length)
{
    public long FirstSequence { get; } = firstSequence;

    public string Path { get; } = path;

    /// <summary>Written by the write path under the segment set's lock; read by the shipper's cursor with <c>Volatile</c>.</summary>
    public long Length = length;

    /// <summary>
    /// Found damaged at start and kept whole (<see cref="SpoolRecovery"/>): its frames' checksums are checked as they are
    /// read, so the damaged frame stops shipping instead of reaching the writer.
    /// </summary>
    public bool Damaged { get; init; }

    /// <summary>
    /// Recovery found no record from this sequence up to the segment's first frame (0: none missing). The gap was already
    /// there when the edge started (a segment moved out or cut while it was stopped), so the reader enters this segment
    /// from any sequence at or above it; a gap that appears while the edge runs is not accepted.
    /// </summary>
    public long MissingFrom { get; init; }
}
