using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolSegmentSetTests : IDisposable
{
    private readonly SpoolTestDirectory _directory = new();

    [Fact]
    public void Write_FrameBeyondSegmentBytes_RollsOverToSegmentNamedByNextSequence()
    {
        var set = new SpoolSegmentSet(_directory.Options(segmentBytes: 100));
        Write(set, 1, 60);
        Write(set, 2, 60);
        set.CloseActive();

        Assert.Equal(2, set.Count);
        Assert.Equal(120, set.Bytes);
        Assert.Equal(
            [SpoolSegmentSet.PathFor(_directory.Path, 1), SpoolSegmentSet.PathFor(_directory.Path, 2)],
            Directory.GetFiles(_directory.Path, "*.seg").Order());
        Assert.Equal(60, new FileInfo(SpoolSegmentSet.PathFor(_directory.Path, 2)).Length);
    }

    [Fact]
    public void Write_EmptySegment_TakesFrameLargerThanSegmentBytes()
    {
        var set = new SpoolSegmentSet(_directory.Options(segmentBytes: 100));
        Write(set, 1, 300);
        Write(set, 2, 10);
        set.CloseActive();

        Assert.Equal(2, set.Count);
        Assert.Equal(300, new FileInfo(SpoolSegmentSet.PathFor(_directory.Path, 1)).Length);
    }

    [Fact]
    public void Write_AfterRecovery_StartsNewReservedSegmentAndLeavesRecoveredOneAsItWas()
    {
        var path = _directory.WriteSegment(1, 2);
        var length = new FileInfo(path).Length;
        var set = new SpoolSegmentSet(_directory.Options(segmentBytes: 1 << 16));
        set.AddRecovered(new SpoolSegment(1, path, length));

        Write(set, 3, 50);

        // Written through a mapping, the recovered file could only grow without reserved blocks (a store into a hole on
        // a full disk is a SIGBUS); the new segment's blocks are reserved when it is created.
        var next = SpoolSegmentSet.PathFor(_directory.Path, 3);
        Assert.Equal(length, new FileInfo(path).Length);
        Assert.Equal(1 << 16, new FileInfo(next).Length);
        set.CloseActive();

        Assert.Equal(2, set.Count);
        Assert.Equal(length + 50, set.Bytes);
        Assert.Equal(50, new FileInfo(next).Length);
    }

    [Fact]
    public void DeleteCoveredBy_PartlyAckedSegment_DeletesOnlyWholeSegmentsAndKeepsTheLast()
    {
        var set = new SpoolSegmentSet(_directory.Options());
        foreach (var (first, last) in new[] { (1L, 4L), (5L, 8L), (9L, 12L) })
        {
            var path = _directory.WriteSegment(first, last);
            set.AddRecovered(new SpoolSegment(first, path, new FileInfo(path).Length));
        }

        var before = set.Bytes;
        set.DeleteCoveredBy(6);
        Assert.Equal(2, set.Count);
        Assert.False(File.Exists(SpoolSegmentSet.PathFor(_directory.Path, 1)));
        Assert.Equal(before - 4 * SpoolTestDirectory.FrameBytes(1), set.Bytes);

        set.DeleteCoveredBy(100);
        Assert.Equal(1, set.Count);
        Assert.True(File.Exists(SpoolSegmentSet.PathFor(_directory.Path, 9)));
    }

    [Fact]
    public void Find_SequenceBelowEverySegment_ReturnsOldestAndFindAfterWalksForward()
    {
        var set = new SpoolSegmentSet(_directory.Options());
        set.AddRecovered(new SpoolSegment(5, SpoolSegmentSet.PathFor(_directory.Path, 5), 0));
        set.AddRecovered(new SpoolSegment(9, SpoolSegmentSet.PathFor(_directory.Path, 9), 0));

        Assert.Equal(5, set.Find(1)!.FirstSequence);
        Assert.Equal(5, set.Find(8)!.FirstSequence);
        Assert.Equal(9, set.Find(9)!.FirstSequence);
        Assert.Equal(9, set.FindAfter(5)!.FirstSequence);
        Assert.Null(set.FindAfter(9));
    }

    [Fact]
    public void DeleteMisnamedEmpty_LoneEmptySegmentNotAtNextSequence_DeletesIt()
    {
        var path = SpoolSegmentSet.PathFor(_directory.Path, 3);
        File.WriteAllBytes(path, []);
        var set = new SpoolSegmentSet(_directory.Options());
        set.AddRecovered(new SpoolSegment(3, path, 0));

        set.DeleteMisnamedEmpty(3);
        Assert.True(File.Exists(path));
        set.DeleteMisnamedEmpty(7);
        Assert.False(File.Exists(path));
        Assert.Equal(0, set.Count);
    }

    private static void Write(SpoolSegmentSet set, long sequence, int frameBytes)
    {
        set.Write(new byte[frameBytes], [], sequence);
    }

    public void Dispose() => _directory.Dispose();
}
