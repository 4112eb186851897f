using System.Text;
using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

/// <summary>A temporary spool directory, with helpers that write frames in the on-disk format.</summary>
internal sealed class SpoolTestDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("edge-audit-spool-").FullName;

    public static byte[] Record(int i) => Encoding.UTF8.GetBytes($"{{\"id\":\"record-{i:D4}\"}}");

    public static int FrameBytes(int i) => SpoolFrame.HeaderSize + Record(i).Length;

    public static byte[] Frame(long sequence, byte[] payload, long unixMs = 1_700_000_000_000)
    {
        var frame = new byte[SpoolFrame.HeaderSize + payload.Length];
        SpoolFrame.WriteHeader(frame, sequence, unixMs, payload);
        payload.CopyTo(frame, SpoolFrame.HeaderSize);
        return frame;
    }

    /// <summary>Writes a segment holding records <paramref name="first"/>..<paramref name="last"/> and returns its path.</summary>
    public string WriteSegment(long first, long last)
    {
        var path = SpoolSegmentSet.PathFor(Path, first);
        using var stream = new FileStream(path, FileMode.Create);
        for (var sequence = first; sequence <= last; sequence++)
        {
            stream.Write(Frame(sequence, Record((int)sequence)));
        }

        return path;
    }

    public SpoolOptions Options(long maxBytes = 1 << 20, long segmentBytes = 1 << 16) =>
        new() { Directory = Path, MaxBytes = maxBytes, SegmentBytes = segmentBytes };

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
