namespace Edge.Audit.Spool;

/// <summary>One segment file: the sequence of its first frame, its path, and the bytes of whole frames it holds.</summary>
internal sealed class SpoolSegment(long firstSequence, string path, long length)
{
    public long FirstSequence { get; } = firstSequence;

    public string Path { get; } = path;

    /// <summary>Written by the write path under the segment set's lock; read by the shipper's cursor with <c>Volatile</c>.</summary>
    public long Length = length;

    /// <summary>
    /// Byte ranges the start found damaged between frames that read back (<see cref="SpoolRecovery"/>), in offset order:
    /// the reader jumps over them. The records they held are reported as lost (<see cref="SpoolGap"/>).
    /// </summary>
    public IReadOnlyList<SpoolSkip> Skips { get; init; } = [];

    /// <summary>
    /// Found damaged at start (<see cref="Skips"/>): its frames' checksums are checked again as they are read, as the disk
    /// under it may be failing.
    /// </summary>
    public bool Damaged => Skips.Count > 0;
}

/// <summary>Damaged bytes from <paramref name="Offset"/> up to <paramref name="End"/>, where the next frame that reads back starts.</summary>
internal readonly record struct SpoolSkip(long Offset, long End);
