using Edge.Audit.Spool;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolRecoveryTests : IDisposable
{
    private readonly SpoolTestDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_060_000));

    [Fact]
    public async Task RecoverAsync_MissingDirectory_CreatesItAndReturnsZero()
    {
        var options = _directory.Options() with { Directory = Path.Combine(_directory.Path, "nested") };

        var (last, segments, _) = await RecoverAsync(options);

        Assert.True(Directory.Exists(options.Directory));
        Assert.Equal(0, last);
        Assert.Equal(0, segments.Count);
    }

    [Fact]
    public async Task RecoverAsync_TornTail_TruncatesSegmentToLastValidFrame()
    {
        var path = _directory.WriteSegment(1, 3);
        var valid = new FileInfo(path).Length;
        await using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(SpoolTestDirectory.Frame(4, SpoolTestDirectory.Record(4)).AsSpan(0, 30));
        }

        var gaps = new List<SpoolGap>();
        var segments = new SpoolSegmentSet(_directory.Options());
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), segments, new SpoolBacklog(_time), CancellationToken.None, gaps: gaps);

        // Record 4 was written (its client answered) and is gone: before, the start cut it with a warning only, and the
        // next append took sequence 4 again, so the trail never said a record was missing.
        Assert.Equal(4, last);
        Assert.Equal(new SpoolGap(path, 4, 5), Assert.Single(gaps));
        Assert.Equal(valid, new FileInfo(path).Length);
        Assert.Equal(valid, segments.Bytes);
    }

    [Fact]
    public async Task RecoverAsync_TornTailOfZerosOnly_ReportsNoLoss()
    {
        var path = _directory.WriteSegment(1, 3);
        var valid = new FileInfo(path).Length;
        await using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(new byte[8192]);
        }

        var gaps = new List<SpoolGap>();
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, gaps: gaps);

        Assert.Equal(3, last);
        Assert.Empty(gaps);
        Assert.Equal(valid, new FileInfo(path).Length);
    }

    [Fact]
    public async Task RecoverAsync_ChecksumMismatchInTheLastSegment_SkipsTheCorruptFrameAndKeepsTheNext()
    {
        var path = _directory.WriteSegment(1, 4);
        var frame = SpoolTestDirectory.FrameBytes(1);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[2 * frame + SpoolFrame.HeaderSize + 3] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);
        var gaps = new List<SpoolGap>();

        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, gaps: gaps);

        // Before, the segment was cut at record 3 as a torn tail, and record 4 went with it.
        Assert.Equal(4, last);
        Assert.Equal(4 * frame, new FileInfo(path).Length);
        Assert.Equal(new SpoolGap(path, 3, 4), Assert.Single(gaps));
    }

    [Fact]
    public async Task RecoverAsync_DamagedFrameInAnEarlierSegment_SkipsToTheNextFrameAndReportsTheLostRecord()
    {
        var path = _directory.WriteSegment(1, 4);
        _directory.WriteSegment(5, 8);
        var frame = SpoolTestDirectory.FrameBytes(1);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[2 * frame + SpoolFrame.HeaderSize + 3] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);
        var damage = new List<SpoolDamage>();
        var gaps = new List<SpoolGap>();

        var segments = new SpoolSegmentSet(_directory.Options());
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), segments, new SpoolBacklog(_time), CancellationToken.None, damage, gaps);

        // Record 4 and the next segment were answered and are still there: before, the segment was kept with shipping
        // stopped at record 3 for good. Only record 3 is lost, and said so.
        Assert.Equal(8, last);
        Assert.Equal(bytes.Length, new FileInfo(path).Length);
        Assert.Equal(8 * frame, segments.Bytes);
        Assert.Equal(new SpoolDamage(path, 2 * frame, frame, 2, Kept: true), Assert.Single(damage));
        Assert.Equal(new SpoolGap(path, 3, 4), Assert.Single(gaps));
    }

    [Fact]
    public async Task RecoverAsync_GarbageOverAFrameHeaderInTheLastSegment_KeepsTheFramesAfterIt()
    {
        var path = _directory.WriteSegment(1, 6);
        var frame = SpoolTestDirectory.FrameBytes(1);
        var bytes = await File.ReadAllBytesAsync(path);
        // A length field of 0x7FFFFFFF and a garbage sequence: nothing may be allocated for it.
        bytes.AsSpan(2 * frame, 12).Fill(0xFF);
        bytes[2 * frame + 3] = 0x7F;
        await File.WriteAllBytesAsync(path, bytes);
        var damage = new List<SpoolDamage>();
        var gaps = new List<SpoolGap>();

        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, damage, gaps);

        // Before, the last segment was cut at record 3 as a torn tail: records 4 to 6 were gone without a loss recorded.
        Assert.Equal(6, last);
        Assert.Equal(bytes.Length, new FileInfo(path).Length);
        Assert.Equal(new SpoolGap(path, 3, 4), Assert.Single(gaps));
        Assert.True(Assert.Single(damage).Kept);
    }

    [Fact]
    public async Task RecoverAsync_DamagedSegmentExtendedPastTwoGiB_ScansItWithoutLoadingIt()
    {
        var path = _directory.WriteSegment(1, 4);
        _directory.WriteSegment(5, 8);
        var valid = new FileInfo(path).Length;
        await using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write([1, 2, 3, 4, 5, 6, 7, 8, 9]);
            // Sparse: no disk used, but a buffer for the rest of the file would be larger than an array may be.
            stream.SetLength(3L << 30);
        }

        var damage = new List<SpoolDamage>();
        var gaps = new List<SpoolGap>();
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, damage, gaps);

        Assert.Equal(8, last);
        Assert.Equal(valid, new FileInfo(path).Length);
        Assert.False(Assert.Single(damage).Kept);
        Assert.Empty(gaps);
    }

    [Fact]
    public async Task RecoverAsync_EarlierSegmentEndingInZeros_CutsThemAndReportsNothing()
    {
        var path = _directory.WriteSegment(1, 4);
        _directory.WriteSegment(5, 8);
        var valid = new FileInfo(path).Length;
        await using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(new byte[4096]);
        }

        var damage = new List<SpoolDamage>();
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, damage);

        Assert.Equal(8, last);
        Assert.Equal(valid, new FileInfo(path).Length);
        Assert.Empty(damage);
    }

    [Fact]
    public async Task RecoverAsync_EarlierSegmentEndingInAPartialFrame_CutsItAsATornWriteAndReportsIt()
    {
        // The segment a power cut caught just after the next one started: its last frame's second half never reached
        // the disk. No frame follows, so this is a torn tail, cut as in the last segment (and logged, not kept).
        var path = _directory.WriteSegment(1, 4);
        _directory.WriteSegment(5, 8);
        var valid = new FileInfo(path).Length;
        await using (var stream = new FileStream(path, FileMode.Append))
        {
            stream.Write(SpoolTestDirectory.Frame(5, SpoolTestDirectory.Record(5)).AsSpan(0, 30));
        }

        var damage = new List<SpoolDamage>();
        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, damage);

        Assert.Equal(8, last);
        Assert.Equal(valid, new FileInfo(path).Length);
        Assert.False(Assert.Single(damage).Kept);
    }

    [Fact]
    public async Task RecoverAsync_SegmentMovedOutBetweenTwo_ReportsTheGapMarksTheNextSegmentAndCutsNothing()
    {
        var before = _directory.WriteSegment(1, 3);
        var after = _directory.WriteSegment(7, 9);
        var lengths = (new FileInfo(before).Length, new FileInfo(after).Length);
        var gaps = new List<SpoolGap>();
        var segments = new SpoolSegmentSet(_directory.Options());

        var last = await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), segments, new SpoolBacklog(_time), CancellationToken.None, gaps: gaps);

        Assert.Equal(9, last);
        Assert.Equal(new SpoolGap(after, 4, 7), Assert.Single(gaps));
        Assert.Equal(lengths, (new FileInfo(before).Length, new FileInfo(after).Length));
        Assert.True(segments.IsKnownLost(4, 6));
        Assert.False(segments.IsKnownLost(3, 6));
    }

    [Fact]
    public async Task RecoverAsync_SegmentDamagedAtItsFirstFrame_ReportsThatRecordLostAndNoGapAfterIt()
    {
        _directory.WriteSegment(1, 3);
        var damaged = _directory.WriteSegment(4, 6);
        _directory.WriteSegment(7, 9);
        var bytes = await File.ReadAllBytesAsync(damaged);
        bytes[SpoolFrame.HeaderSize + 3] ^= 0xFF;
        await File.WriteAllBytesAsync(damaged, bytes);
        var damage = new List<SpoolDamage>();
        var gaps = new List<SpoolGap>();

        await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, damage, gaps);

        Assert.True(Assert.Single(damage).Kept);
        Assert.Equal(new SpoolGap(damaged, 4, 5), Assert.Single(gaps));
    }

    [Fact]
    public async Task RecoverAsync_FirstSegmentAboveTheAckMark_ReportsTheGapFromTheAckMark()
    {
        new SpoolAckMark(_directory.Path).Persist(2);
        var path = _directory.WriteSegment(5, 8);
        var gaps = new List<SpoolGap>();

        await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, gaps: gaps);

        Assert.Equal(new SpoolGap(path, 3, 5), Assert.Single(gaps));
    }

    [Fact]
    public async Task RecoverAsync_RecordsMissingBelowTheAckMarkOnly_ReportsNoGap()
    {
        // A power cut took the unsynced end of a segment the writer had already acknowledged; the writer went on after the
        // ack mark. Nothing unshipped is missing.
        new SpoolAckMark(_directory.Path).Persist(7);
        _directory.WriteSegment(1, 3);
        _directory.WriteSegment(8, 9);
        var gaps = new List<SpoolGap>();

        await SpoolRecovery.RecoverAsync(
            _directory.Options(), new SpoolAckMark(_directory.Path), new SpoolSegmentSet(_directory.Options()), new SpoolBacklog(_time),
            CancellationToken.None, gaps: gaps);

        Assert.Empty(gaps);
    }

    [Fact]
    public async Task RecoverAsync_AckMarkCoversWholeSegments_DeletesThemAndKeepsBacklogOfTheRest()
    {
        _directory.WriteSegment(1, 4);
        _directory.WriteSegment(5, 8);
        _directory.WriteSegment(9, 10);
        new SpoolAckMark(_directory.Path).Persist(6);

        var (last, segments, backlog) = await RecoverAsync(_directory.Options());

        Assert.Equal(10, last);
        Assert.Equal(2, segments.Count);
        Assert.False(File.Exists(SpoolSegmentSet.PathFor(_directory.Path, 1)));
        Assert.Equal(6 * SpoolTestDirectory.FrameBytes(1), segments.Bytes);
        // Frames carry unix ms 1_700_000_000_000; the clock is 60 s later. Only 7..10 are unacked.
        Assert.Equal(60, backlog.OldestAgeSeconds(), precision: 3);
        backlog.ReleaseThrough(10);
        Assert.Equal(0, backlog.OldestAgeSeconds());
    }

    [Fact]
    public async Task RecoverAsync_EverythingAckedAndSegmentEmpty_ContinuesAfterAckMark()
    {
        File.WriteAllBytes(SpoolSegmentSet.PathFor(_directory.Path, 1), []);
        new SpoolAckMark(_directory.Path).Persist(20);

        var (last, segments, _) = await RecoverAsync(_directory.Options());

        Assert.Equal(20, last);
        Assert.Equal(0, segments.Count);
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.seg"));
    }

    [Fact]
    public async Task RecoverAsync_FrameLargerThanReadWindow_IsKept()
    {
        var path = SpoolSegmentSet.PathFor(_directory.Path, 1);
        var large = new byte[600 * 1024];
        Random.Shared.NextBytes(large);
        await using (var stream = new FileStream(path, FileMode.Create))
        {
            stream.Write(SpoolTestDirectory.Frame(1, SpoolTestDirectory.Record(1)));
            stream.Write(SpoolTestDirectory.Frame(2, large));
            stream.Write(SpoolTestDirectory.Frame(3, SpoolTestDirectory.Record(3)));
        }

        var length = new FileInfo(path).Length;
        var (last, segments, _) = await RecoverAsync(_directory.Options());

        Assert.Equal(3, last);
        Assert.Equal(length, segments.Bytes);
        Assert.Equal(length, new FileInfo(path).Length);
    }

    private async Task<(long Last, SpoolSegmentSet Segments, SpoolBacklog Backlog)> RecoverAsync(SpoolOptions options)
    {
        var segments = new SpoolSegmentSet(options);
        var backlog = new SpoolBacklog(_time);
        var last = await SpoolRecovery.RecoverAsync(options, new SpoolAckMark(options.Directory), segments, backlog, CancellationToken.None);
        return (last, segments, backlog);
    }

    public void Dispose() => _directory.Dispose();
}
