using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolReaderTests : IDisposable
{
    private readonly SpoolTestDirectory _directory = new();

    [Fact]
    public void Read_AcrossSegments_ReturnsRecordsInOrderAndMovesCursor()
    {
        var reader = new SpoolReader(Segments((1, 3), (4, 6)));
        using var cursor = new SpoolCursor(1);

        var first = reader.Read(cursor, durableSequence: 6, maxRecords: 4, maxBytes: 1 << 20);
        var rest = reader.Read(cursor, durableSequence: 6, maxRecords: 100, maxBytes: 1 << 20);

        Assert.Equal([1L, 2, 3, 4], first.Select(r => r.Sequence));
        Assert.Equal([5L, 6], rest.Select(r => r.Sequence));
        Assert.Equal(SpoolTestDirectory.Record(5), rest[0].Payload);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), rest[0].AppendedAt);
        Assert.Equal(7, cursor.NextSequence);
    }

    [Fact]
    public void Read_BeyondDurableSequence_StopsAtIt()
    {
        var reader = new SpoolReader(Segments((1, 5)));
        using var cursor = new SpoolCursor(1);

        Assert.Equal([1L, 2, 3], reader.Read(cursor, durableSequence: 3, maxRecords: 100, maxBytes: 1 << 20).Select(r => r.Sequence));
        Assert.Equal([4L, 5], reader.Read(cursor, durableSequence: 5, maxRecords: 100, maxBytes: 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public void Read_CursorInsideSegment_SkipsEarlierFrames()
    {
        var reader = new SpoolReader(Segments((1, 4)));
        using var cursor = new SpoolCursor(3);

        Assert.Equal([3L, 4], reader.Read(cursor, durableSequence: 4, maxRecords: 100, maxBytes: 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public void Read_MaxBytes_StopsOnceReached()
    {
        var reader = new SpoolReader(Segments((1, 10)));
        using var cursor = new SpoolCursor(1);

        var read = reader.Read(cursor, durableSequence: 10, maxRecords: 100, maxBytes: SpoolTestDirectory.Record(1).Length * 2);

        Assert.Equal(2, read.Count);
    }

    [Fact]
    public void Read_CorruptHeader_ThrowsInvalidData()
    {
        var path = _directory.WriteSegment(1, 2);
        var bytes = File.ReadAllBytes(path);
        // A zero sequence is never written: the second frame's header is invalid.
        Array.Clear(bytes, SpoolTestDirectory.FrameBytes(1) + 4, 8);
        File.WriteAllBytes(path, bytes);
        var set = new SpoolSegmentSet(_directory.Options());
        set.AddRecovered(new SpoolSegment(1, path, bytes.Length));
        using var cursor = new SpoolCursor(1);

        Assert.Throws<InvalidDataException>(() => new SpoolReader(set).Read(cursor, durableSequence: 2, maxRecords: 100, maxBytes: 1 << 20));
    }

    private SpoolSegmentSet Segments(params (long First, long Last)[] ranges)
    {
        var set = new SpoolSegmentSet(_directory.Options());
        foreach (var (first, last) in ranges)
        {
            var path = _directory.WriteSegment(first, last);
            set.AddRecovered(new SpoolSegment(first, path, new FileInfo(path).Length));
        }

        return set;
    }

    public void Dispose() => _directory.Dispose();
}
