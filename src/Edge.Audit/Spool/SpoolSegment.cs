namespace Edge.Audit.Spool;

/// <summary>One segment file: the sequence of its first frame, its path, and the bytes of whole frames it holds.</summary>
internal sealed class SpoolSegment(long firstSequence, string path, long length)
{
    public long FirstSequence { get; } = firstSequence;

    public string Path { get; } = path;

    public long Length { get; set; } = length;
}
