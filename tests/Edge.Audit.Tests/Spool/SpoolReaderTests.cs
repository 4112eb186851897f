using System.Buffers;
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
    public void ReadBatch_AcrossSegments_WritesPayloadsAsNdjsonAndMovesCursor()
    {
        var reader = new SpoolReader(Segments((1, 3), (4, 6)));
        using var cursor = new SpoolCursor(2);
        var body = new ArrayBufferWriter<byte>();

        var first = reader.ReadBatch(cursor, durableSequence: 6, maxRecords: 4, maxBytes: 1 << 20, body);

        Assert.Equal(new SpoolBatch(4, 5), first);
        // The writer's ingest body: each payload, then a newline, exactly as the old per-record copy built it.
        var expected = Enumerable.Range(2, 4).SelectMany(i => SpoolTestDirectory.Record(i).Append((byte)'\n')).ToArray();
        Assert.Equal(expected, body.WrittenSpan.ToArray());
        Assert.Equal(6, cursor.NextSequence);

        body.ResetWrittenCount();
        Assert.Equal(new SpoolBatch(1, 6), reader.ReadBatch(cursor, durableSequence: 6, maxRecords: 100, maxBytes: 1 << 20, body));
        Assert.Equal(new SpoolBatch(0, 0), reader.ReadBatch(cursor, durableSequence: 6, maxRecords: 100, maxBytes: 1 << 20, body));
    }

    [Fact]
    public void ReadBatch_IntoBodyWithRoom_AllocatesNoArrayPerRecord()
    {
        var reader = new SpoolReader(Segments((1, 200)));
        using var cursor = new SpoolCursor(1);
        var body = new ArrayBufferWriter<byte>(1 << 20);
        // The first record opens the segment's handle: a one-time cost per segment (and, when this is the process's first
        // file open, the runtime's own first-use allocations; CI once saw 3,872 bytes), not the per-record cost measured here.
        Assert.Equal(1, reader.ReadBatch(cursor, durableSequence: 200, maxRecords: 1, maxBytes: 1 << 20, body).Count);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var batch = reader.ReadBatch(cursor, durableSequence: 200, maxRecords: 1000, maxBytes: 1 << 20, body);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(199, batch.Count);
        // Read copied every record into an array of its own (199 × ~50 bytes here, ~1.2 KB per request in the edge).
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 199 records");
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

    [Fact]
    public void ReadBatch_FrameThatDoesNotReadBackAfterGoodOnes_ReturnsThoseThenThrowsAtIt()
    {
        var path = _directory.WriteSegment(1, 3);
        var bytes = File.ReadAllBytes(path);
        Array.Clear(bytes, SpoolTestDirectory.FrameBytes(1) + SpoolTestDirectory.FrameBytes(2) + 4, 8);
        File.WriteAllBytes(path, bytes);
        var set = new SpoolSegmentSet(_directory.Options());
        set.AddRecovered(new SpoolSegment(1, path, bytes.Length));
        var reader = new SpoolReader(set);
        using var cursor = new SpoolCursor(1);
        var body = new ArrayBufferWriter<byte>();

        var batch = reader.ReadBatch(cursor, durableSequence: 3, maxRecords: 100, maxBytes: 1 << 20, body);

        Assert.Equal((2, 2L), (batch.Count, batch.LastSequence));
        Assert.Equal([.. SpoolTestDirectory.Record(1), (byte)'\n', .. SpoolTestDirectory.Record(2), (byte)'\n'], body.WrittenSpan.ToArray());
        Assert.Equal(3, cursor.NextSequence);
        Assert.Throws<InvalidDataException>(() => reader.ReadBatch(cursor, durableSequence: 3, maxRecords: 100, maxBytes: 1 << 20, new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public void ReadBatch_NextSegmentStartsAboveTheCursor_ReturnsTheRecordsBeforeTheGapThenThrowsAtIt()
    {
        // Records 4 and 5 are gone: the first segment ended early (cut from outside while the edge runs). Before, the
        // reader moved on to record 6, and the shipper acknowledged 4 and 5 past without a word.
        var reader = new SpoolReader(Segments((1, 3), (6, 8)));
        using var cursor = new SpoolCursor(1);
        var body = new ArrayBufferWriter<byte>();

        var batch = reader.ReadBatch(cursor, durableSequence: 8, maxRecords: 100, maxBytes: 1 << 20, body);

        Assert.Equal(new SpoolBatch(3, 3), batch);
        var gap = Assert.Throws<InvalidDataException>(() => reader.ReadBatch(cursor, durableSequence: 8, maxRecords: 100, maxBytes: 1 << 20, body));
        Assert.Contains("Spool frame 6 in segment 6 at offset 0 follows a gap: sequence 4 was expected", gap.Message, StringComparison.Ordinal);
        Assert.Equal(4, cursor.NextSequence);
    }

    [Fact]
    public void ReadBatch_GapTheStartFound_ReadsPastIt()
    {
        // A segment moved out while the edge was stopped: the start marked the next one, and its records ship.
        var set = SegmentsWithFourAndFiveMissingAtStart();
        using var cursor = new SpoolCursor(1);

        var read = new SpoolReader(set).Read(cursor, durableSequence: 8, maxRecords: 100, maxBytes: 1 << 20);

        Assert.Equal([1L, 2, 3, 6, 7, 8], read.Select(r => r.Sequence));
    }

    [Fact]
    public void ReadBatch_SegmentBeforeAGapTheStartFoundEndsEarlier_ThrowsAtTheNewGap()
    {
        // The start found 4 and 5 missing; record 3 went missing since (the first segment cut while the edge runs).
        var set = SegmentsWithFourAndFiveMissingAtStart();
        using (var file = new FileStream(SpoolSegmentSet.PathFor(_directory.Path, 1), FileMode.Open, FileAccess.Write))
        {
            file.SetLength(SpoolTestDirectory.FrameBytes(1) + SpoolTestDirectory.FrameBytes(2));
        }

        var reader = new SpoolReader(set);
        using var cursor = new SpoolCursor(1);

        Assert.Equal(new SpoolBatch(2, 2), reader.ReadBatch(cursor, durableSequence: 8, maxRecords: 100, maxBytes: 1 << 20, new ArrayBufferWriter<byte>()));
        var gap = Assert.Throws<InvalidDataException>(() => reader.ReadBatch(cursor, durableSequence: 8, maxRecords: 100, maxBytes: 1 << 20, new ArrayBufferWriter<byte>()));
        Assert.Contains("sequence 3 was expected", gap.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadBatch_NextSegmentsFileRemovedWhileRunning_ThrowsThereInsteadOfWaitingAtTheTail()
    {
        // Before, the reader answered "nothing more" for good: shipping stopped without a log line.
        var set = Segments((1, 3), (4, 6), (7, 9));
        File.Delete(SpoolSegmentSet.PathFor(_directory.Path, 4));
        var reader = new SpoolReader(set);
        using var cursor = new SpoolCursor(1);

        Assert.Equal(new SpoolBatch(3, 3), reader.ReadBatch(cursor, durableSequence: 9, maxRecords: 100, maxBytes: 1 << 20, new ArrayBufferWriter<byte>()));
        var missing = Assert.Throws<InvalidDataException>(() => reader.ReadBatch(cursor, durableSequence: 9, maxRecords: 100, maxBytes: 1 << 20, new ArrayBufferWriter<byte>()));
        Assert.Contains("Spool segment 4 is missing", missing.Message, StringComparison.Ordinal);
        Assert.Equal(4, cursor.NextSequence);
    }

    /// <summary>Records 1..3 and 6..8, as the start recovers them when the segment holding 4 and 5 was moved out.</summary>
    private SpoolSegmentSet SegmentsWithFourAndFiveMissingAtStart()
    {
        var set = new SpoolSegmentSet(_directory.Options());
        var before = _directory.WriteSegment(1, 3);
        var after = _directory.WriteSegment(6, 8);
        set.AddRecovered(new SpoolSegment(1, before, new FileInfo(before).Length));
        set.AddRecovered(new SpoolSegment(6, after, new FileInfo(after).Length));
        set.AddKnownLost(4, 5);
        return set;
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
