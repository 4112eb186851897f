namespace Edge.Audit.Spool;

/// <summary>
/// The active segment's file is no longer in the spool directory: the directory was removed or replaced, or the file
/// deleted, while the edge runs. Frames written to it since are in a file nothing can read after a restart.
/// </summary>
public sealed class SpoolSegmentGoneException(string segment) : IOException(
    $"The audit spool segment '{segment}' is gone from the spool directory (removed or replaced while the edge runs); records are refused until a new segment can be created there.")
{
    public string Segment { get; } = segment;
}
