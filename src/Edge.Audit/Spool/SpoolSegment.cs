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
}
