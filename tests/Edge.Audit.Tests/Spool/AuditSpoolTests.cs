using System.Buffers;
using System.Text;
using Edge.Audit.Spool;

namespace Edge.Audit.Tests.Spool;

public sealed class AuditSpoolTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-audit-spool-").FullName;

    private SpoolOptions Options(long maxBytes = 1 << 20, long segmentBytes = 1 << 16) =>
        new() { Directory = _directory, MaxBytes = maxBytes, SegmentBytes = segmentBytes };

    private static byte[] Record(int i) => Encoding.UTF8.GetBytes($"{{\"id\":\"record-{i:D4}\"}}");

    [Fact]
    public async Task TryAppendAsync_ThenRead_ReturnsRecordsInOrderAfterDurable()
    {
        await using var spool = await AuditSpool.OpenAsync(Options());
        for (var i = 0; i < 100; i++)
        {
            Assert.True(await spool.TryAppendAsync(Record(i)));
        }

        using var cursor = spool.CreateCursor();
        var read = spool.Read(cursor, 1000, 1 << 20);

        Assert.Equal(100, spool.DurableSequence);
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), read.Select(r => r.Sequence));
        Assert.Equal(Record(42), read[42].Payload);
    }

    [Fact]
    public async Task OpenAsync_NewDirectory_DirectoryAndSegmentsPrivateToTheUser()
    {
        var directory = Path.Combine(_directory, "spool");
        await using var spool = await AuditSpool.OpenAsync(Options() with { Directory = directory });
        Assert.True(await spool.TryAppendAsync(Record(1)));

        var segments = Directory.GetFiles(directory, "*.seg");
        Assert.NotEmpty(segments);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
            foreach (var path in segments)
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
    }

    [Fact]
    public async Task OpenAsync_DirectoryOfAnotherLiveSpool_ThrowsSpoolInUseAndLeavesTheFirstSpoolIntact()
    {
        await using var first = await AuditSpool.OpenAsync(Options());
        for (var i = 0; i < 10; i++)
        {
            Assert.True(await first.TryAppendAsync(Record(i)));
        }

        // A second edge with the same Edge:Audit:SpoolPath: before, its recovery cut the first spool's mapped active
        // segment to its last frame, and the first edge died on a later append.
        var second = AuditSpool.Create(Options());
        var refused = await Assert.ThrowsAsync<SpoolInUseException>(() => second.StartAsync());
        Assert.Contains("Edge:Audit:SpoolPath", refused.Message, StringComparison.Ordinal);
        await second.DisposeAsync();

        for (var i = 10; i < 20; i++)
        {
            Assert.True(await first.TryAppendAsync(Record(i)));
        }

        using var cursor = first.CreateCursor();
        var read = first.Read(cursor, 1000, 1 << 20);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), read.Select(r => r.Sequence));
        Assert.Equal(Record(19), read[19].Payload);
    }

    [Fact]
    public async Task OpenAsync_AfterThePreviousSpoolClosed_TakesTheDirectoryAndRecoversItsRecords()
    {
        await using (var previous = await AuditSpool.OpenAsync(Options()))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True(await previous.TryAppendAsync(Record(i)));
            }
        }

        await using var next = await AuditSpool.OpenAsync(Options());
        Assert.True(await next.TryAppendAsync(Record(5)));
        using var cursor = next.CreateCursor();
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), next.Read(cursor, 1000, 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public async Task TryAppendAsync_AtSizeCap_ReturnsFalseAndKeepsEarlierRecords()
    {
        var frame = 24 + Record(0).Length;
        await using var spool = await AuditSpool.OpenAsync(Options(maxBytes: frame * 5));

        var results = new List<bool>();
        for (var i = 0; i < 7; i++)
        {
            results.Add(await spool.TryAppendAsync(Record(i)));
        }

        Assert.Equal([true, true, true, true, true, false, false], results);
        Assert.Equal(frame * 5, spool.Metrics.Bytes);
    }

    [Fact]
    public async Task Acknowledge_FreesSpaceOnlyBelowAckedMark()
    {
        var frame = 24 + Record(0).Length;
        // Segments of 4 frames; a cap of 12 frames.
        await using var spool = await AuditSpool.OpenAsync(Options(maxBytes: frame * 12, segmentBytes: frame * 4));
        for (var i = 0; i < 12; i++)
        {
            Assert.True(await spool.TryAppendAsync(Record(i)));
        }

        Assert.False(await spool.TryAppendAsync(Record(12)));
        spool.Acknowledge(6);
        // Only the first segment (1-4) lies wholly below 6; the segment holding 5-8 stays.
        Assert.Equal(frame * 8, spool.Metrics.Bytes);
        Assert.Equal(6, spool.Metrics.Shipped);
        Assert.True(await spool.TryAppendAsync(Record(12)));

        using var cursor = spool.CreateCursor();
        Assert.Equal(Enumerable.Range(7, 7).Select(i => (long)i), spool.Read(cursor, 100, 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Acknowledge_CapBelowSegmentSizeAllAcked_AppendsAgain()
    {
        var frame = 24 + Record(0).Length;
        // The edge's Edge:Audit:SpoolMaxBytes below the 8 MiB segment: the one segment reached the cap and was never
        // freed, however much the writer acknowledged.
        await using var spool = await AuditSpool.OpenAsync(Options(maxBytes: frame * 12, segmentBytes: 8L * 1024 * 1024));
        var appended = 0;
        while (await spool.TryAppendAsync(Record(appended)))
        {
            appended++;
        }

        spool.Acknowledge(appended);

        Assert.True(await spool.TryAppendAsync(Record(appended)));
        Assert.True(spool.HasRoomFor(Record(0).Length));
    }

    [Fact]
    public async Task TryAppendAsync_AdmittedAtTheCap_WrittenPastItWhileOthersAreRefused()
    {
        var frame = 24 + Record(0).Length;
        await using var spool = await AuditSpool.OpenAsync(Options(maxBytes: frame * 4, segmentBytes: frame * 2));
        var appended = 0;
        while (await spool.TryAppendAsync(Record(appended)))
        {
            appended++;
        }

        // A request admitted while there was room: its record is kept, past the cap, after other appends were refused.
        Assert.True(await spool.TryAppendAsync(Record(appended), admitted: true));
        Assert.False(await spool.TryAppendAsync(Record(appended + 1)));
        Assert.False(spool.HasRoomFor(Record(0).Length));
        using var cursor = spool.CreateCursor();
        Assert.Equal(appended + 1, spool.Read(cursor, 1000, 1 << 20).Count);
    }

    [Fact]
    public async Task Open_AfterRestart_ReplaysOnlyUnackedRecordsAndContinuesSequence()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options(segmentBytes: 256)))
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }

            spool.Acknowledge(8);
        }

        await using var reopened = await AuditSpool.OpenAsync(Options(segmentBytes: 256));
        using var cursor = reopened.CreateCursor();
        var replay = reopened.Read(cursor, 100, 1 << 20);

        Assert.Equal(8, reopened.AckedSequence);
        Assert.Equal(Enumerable.Range(9, 12).Select(i => (long)i), replay.Select(r => r.Sequence));
        Assert.Equal(Record(8), replay[0].Payload);
        Assert.True(await reopened.TryAppendAsync(Record(20)));
        Assert.Equal(21, reopened.DurableSequence);
    }

    [Fact]
    public async Task DeleteAcknowledged_EveryRecordAcknowledged_DeletesTheSegmentAndTheSequenceGoesOn()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options()))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }

            spool.Acknowledge(2);
            Assert.False(spool.DeleteAcknowledged());
            Assert.Single(Directory.GetFiles(_directory, "*.seg"));

            spool.Acknowledge(3);
            Assert.True(spool.DeleteAcknowledged());
            Assert.Empty(Directory.GetFiles(_directory, "*.seg"));
            Assert.Equal(0, spool.Metrics.Bytes);
            Assert.False(spool.DeleteAcknowledged());

            Assert.True(await spool.TryAppendAsync(Record(3)));
            using var cursor = spool.CreateCursor();
            Assert.Equal([4L], spool.Read(cursor, 100, 1 << 20).Select(r => r.Sequence));
        }

        await using var reopened = await AuditSpool.OpenAsync(Options());
        using var replay = reopened.CreateCursor();
        Assert.Equal([4L], reopened.Read(replay, 100, 1 << 20).Select(r => r.Sequence));
        Assert.True(await reopened.TryAppendAsync(Record(4)));
        Assert.Equal(5, reopened.DurableSequence);
    }

    [Fact]
    public async Task Open_TornTailAfterCrash_DropsOnlyTheTornFrame()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options()))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }
        }

        var segment = Directory.GetFiles(_directory, "*.seg").Single();
        await using (var stream = new FileStream(segment, FileMode.Append))
        {
            stream.Write(new byte[] { 40, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3 });
        }

        await using var reopened = await AuditSpool.OpenAsync(Options());
        using var cursor = reopened.CreateCursor();

        Assert.Equal(5, reopened.Read(cursor, 100, 1 << 20).Count);
        // Record 6 was being written when the machine stopped: its loss is reported, and its sequence is not given to
        // the next record (before, the next append took 6 again and the loss left no trace).
        Assert.Equal(new SpoolGap(segment, 6, 7), Assert.Single(reopened.RecoveryGaps));
        Assert.Equal(1, reopened.Metrics.Lost);
        Assert.True(await reopened.TryAppendAsync(Record(5)));
        Assert.True(await reopened.TryAppendAsync(Record(6)));
        Assert.Equal([7L, 8], reopened.Read(cursor, 100, 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Open_DamagedFrameInAnEarlierSegment_ReadsEveryOtherRecordAndCountsTheLoss()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options(segmentBytes: 512)))
        {
            for (var i = 1; i <= 40; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }
        }

        var segments = Directory.GetFiles(_directory, "*.seg").Order().ToList();
        Assert.True(segments.Count > 2);
        var frame = 24 + Record(1).Length;
        var bytes = await File.ReadAllBytesAsync(segments[0]);
        // Garbage over the third frame's header, a length field of 0x7FFFFFFF among it.
        bytes.AsSpan(2 * frame, 16).Fill(0xFF);
        bytes[2 * frame + 3] = 0x7F;
        await File.WriteAllBytesAsync(segments[0], bytes);

        await using var reopened = await AuditSpool.OpenAsync(Options(segmentBytes: 512));
        using var cursor = reopened.CreateCursor();
        var read = new List<SpooledRecord>();
        for (var batch = reopened.Read(cursor, 7, 1 << 20); batch.Count > 0; batch = reopened.Read(cursor, 7, 1 << 20))
        {
            read.AddRange(batch);
        }

        // Before, the reader stopped at record 3 for good, and 37 answered records never shipped.
        Assert.Equal(Enumerable.Range(1, 40).Where(i => i != 3).Select(i => (long)i), read.Select(r => r.Sequence));
        Assert.Equal(Record(4), read[2].Payload);
        Assert.Equal(new SpoolGap(segments[0], 3, 4), Assert.Single(reopened.RecoveryGaps));
        Assert.Equal(1, reopened.Metrics.Lost);
        Assert.True(await reopened.TryAppendAsync(Record(41)));
        Assert.Equal(41, reopened.Read(cursor, 100, 1 << 20).Single().Sequence);
    }

    [Fact]
    public async Task Acknowledge_SegmentsRolledSinceTheLastFsync_HoldsNoDeletedFileOpen()
    {
        // The fake clock never reaches the commit interval: no fsync runs, as when every append after the rolls failed.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var spool = await AuditSpool.OpenAsync(Options(segmentBytes: 512), clock);
        for (var i = 1; i <= 40; i++)
        {
            Assert.True(await spool.TryAppendAsync(Record(i)));
        }

        Assert.True(Directory.GetFiles(_directory, "*.seg").Length > 2);

        spool.Acknowledge(spool.DurableSequence);

        // A deleted file held open keeps its blocks: on a full disk, the room the acknowledgement freed never came back.
        var held = Directory.GetFiles("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith(_directory, StringComparison.Ordinal) && target.EndsWith("(deleted)", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(held);
    }

    [Fact]
    public async Task OpenAsync_NewDirectory_WritesTheAckMarkSoALaterPersistCanOverwriteIt()
    {
        await using var spool = await AuditSpool.OpenAsync(Options());
        Assert.True(await spool.TryAppendAsync(Record(1)));
        // The disk filled before the first acknowledgement: no temp file can be created for the mark. Before, with no
        // mark file to overwrite, every persist failed and no segment was ever deleted to give the disk room back.
        Directory.CreateDirectory(Path.Combine(_directory, "acked.tmp"));

        spool.Acknowledge(1);

        Assert.Equal(1, spool.AckedSequence);
    }

    [Fact]
    public async Task Metrics_UnackedRecord_ReportsAgeAndBytes()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var spool = await AuditSpool.OpenAsync(Options() with { CommitInterval = TimeSpan.Zero }, time);
        Assert.True(await spool.TryAppendAsync(Record(0)));
        time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(30, spool.Metrics.OldestUnackedAge.TotalSeconds, precision: 1);
        spool.Acknowledge(1);
        Assert.Equal(TimeSpan.Zero, spool.Metrics.OldestUnackedAge);
        Assert.Equal(1, spool.Metrics.Shipped);
    }

    [Fact]
    public async Task Create_BeforeStart_TouchesNoFile()
    {
        var directory = Path.Combine(_directory, "not-yet");

        await using var spool = AuditSpool.Create(Options() with { Directory = directory });

        Assert.False(Directory.Exists(directory));
        Assert.Throws<InvalidOperationException>(() => spool.CreateCursor());
        await spool.StartAsync();
        Assert.True(Directory.Exists(directory));
    }

    [Fact]
    public async Task StartAsync_CalledTwice_RecoversOnce()
    {
        await using var spool = AuditSpool.Create(Options());
        var first = spool.StartAsync();
        var second = spool.StartAsync();
        await Task.WhenAll(first, second);
        Assert.True(await spool.TryAppendAsync(Record(0)));

        await spool.StartAsync();

        Assert.Equal(1, spool.DurableSequence);
        Assert.Equal(24 + Record(0).Length, spool.Metrics.Bytes);
    }

    [Fact]
    public async Task TryAppendAsync_BeforeStart_StartsTheSpoolAndContinuesItsSequence()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options()))
        {
            Assert.True(await spool.TryAppendAsync(Record(0)));
        }

        await using var reopened = AuditSpool.Create(Options());
        // Blocking on it must not deadlock: the first config-applied event is written this way during startup.
#pragma warning disable xUnit1031 // The blocking wait is what this test reproduces.
        Assert.True(reopened.TryAppendAsync(Record(1)).AsTask().Wait(TimeSpan.FromSeconds(10)));
#pragma warning restore xUnit1031

        Assert.Equal(2, reopened.DurableSequence);
        using var cursor = reopened.CreateCursor();
        Assert.Equal([1L, 2], reopened.Read(cursor, 100, 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public async Task TryAppendAsync_ClosedBeforeStart_ReturnsFalse()
    {
        var spool = AuditSpool.Create(Options());
        await spool.DisposeAsync();

        Assert.False(await spool.TryAppendAsync(Record(0)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => spool.StartAsync());
    }

    [Fact]
    public async Task ReadBatch_RecordsAppendedAfterAnEarlierRead_ReadsThemFromTheActiveSegment()
    {
        await using var spool = await AuditSpool.OpenAsync(Options());
        Assert.True(await spool.TryAppendAsync(Record(1)));
        using var cursor = spool.CreateCursor();
        var body = new ArrayBufferWriter<byte>();
        Assert.Equal(1, spool.ReadBatch(cursor, 100, 1 << 20, body).Count);

        // The active segment's file is a whole segment long: the first read must not have kept the zeros past frame 1.
        Assert.True(await spool.TryAppendAsync(Record(2)));
        Assert.True(await spool.TryAppendAsync(Record(3)));
        body.ResetWrittenCount();
        var batch = spool.ReadBatch(cursor, 100, 1 << 20, body);

        Assert.Equal((2, 3L), (batch.Count, batch.LastSequence));
        Assert.Equal([.. Record(2), (byte)'\n', .. Record(3), (byte)'\n'], body.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task Open_AfterTheWriterWasKilled_KeepsEveryAppendedRecordAndCutsTheSegmentAfterThem()
    {
        var frame = 24 + Record(0).Length;
        var killed = await AuditSpool.OpenAsync(Options());
        for (var i = 1; i <= 5; i++)
        {
            Assert.True(await killed.TryAppendAsync(Record(i)));
        }

        // Never closed, as after kill -9: the segment file still has the zeros of its mapping after frame 5, and the
        // operating system has released the directory lock with the process.
        killed.ReleaseDirectoryLockAsKilled();
        var path = Directory.GetFiles(_directory, "*.seg").Single();
        Assert.True(new FileInfo(path).Length > 5 * frame);
        await using (var restarted = await AuditSpool.OpenAsync(Options()))
        {
            using var cursor = restarted.CreateCursor();

            Assert.Equal(5, restarted.DurableSequence);
            Assert.Equal(Enumerable.Range(1, 5).Select(Record), restarted.Read(cursor, 100, 1 << 20).Select(r => r.Payload));
            Assert.Equal(5 * frame, new FileInfo(path).Length);
        }

        await killed.DisposeAsync();
    }

    [Fact]
    public async Task Open_EarlierSegmentTruncatedToZeroBytes_ReportsItsRecordsLostAndReadsTheRest()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options(segmentBytes: 512)))
        {
            for (var i = 1; i <= 40; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }
        }

        var segments = Directory.GetFiles(_directory, "*.seg").Order().ToList();
        Assert.True(segments.Count > 2);
        File.WriteAllBytes(segments[1], []);
        var from = long.Parse(Path.GetFileNameWithoutExtension(segments[1]), System.Globalization.CultureInfo.InvariantCulture);
        var next = long.Parse(Path.GetFileNameWithoutExtension(segments[2]), System.Globalization.CultureInfo.InvariantCulture);

        await using var reopened = await AuditSpool.OpenAsync(Options(segmentBytes: 512));
        using var cursor = reopened.CreateCursor();

        Assert.Equal(new SpoolGap(segments[2], from, next), Assert.Single(reopened.RecoveryGaps));
        Assert.Equal(
            Enumerable.Range(1, 40).Where(i => i < from || i >= next).Select(i => (long)i),
            reopened.Read(cursor, 100, 1 << 20).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Open_SegmentReplacedByADirectory_ReportsItsRecordsLostAndReadsTheRest()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options(segmentBytes: 512)))
        {
            for (var i = 1; i <= 40; i++)
            {
                Assert.True(await spool.TryAppendAsync(Record(i)));
            }
        }

        var segments = Directory.GetFiles(_directory, "*.seg").Order().ToList();
        File.Delete(segments[1]);
        Directory.CreateDirectory(segments[1]);

        await using var reopened = await AuditSpool.OpenAsync(Options(segmentBytes: 512));
        using var cursor = reopened.CreateCursor();

        Assert.Single(reopened.RecoveryGaps);
        Assert.True(reopened.Read(cursor, 100, 1 << 20).Count > 20);
    }

    [Fact]
    public async Task Open_StrayFileNamedLikeASegment_StartsAndReadsTheRecords()
    {
        await using (var spool = await AuditSpool.OpenAsync(Options()))
        {
            Assert.True(await spool.TryAppendAsync(Record(1)));
        }

        File.WriteAllText(Path.Combine(_directory, "notes.seg"), "not a segment");

        await using var reopened = await AuditSpool.OpenAsync(Options());
        using var cursor = reopened.CreateCursor();

        Assert.Single(reopened.Read(cursor, 100, 1 << 20));
    }

    [Theory]
    [InlineData(SpoolDurability.ProcessCrash)]
    [InlineData(SpoolDurability.PowerLoss)]
    public async Task TryAppendAsync_SpoolDirectoryRemovedWhileTheSegmentHasRoom_FailsAppendsUntilTheDirectoryIsBack(SpoolDurability durability)
    {
        await using var spool = await AuditSpool.OpenAsync(Options() with { Durability = durability, CommitInterval = TimeSpan.FromMilliseconds(5) });
        Assert.True(await spool.TryAppendAsync(Record(1)));

        // The active segment has room for hundreds more frames: before, they went on into the removed (unlinked) file,
        // every append succeeded and the spool said it was writable, and the records not yet shipped were gone at the
        // next restart without a trace. The removal is seen at the next fsync.
        Directory.Delete(_directory, recursive: true);
        Exception? failure = null;
        for (var i = 2; failure is null && i < 500; i++)
        {
            try
            {
                await spool.TryAppendAsync(Record(i));
                await Task.Delay(10);
            }
            catch (IOException exception)
            {
                failure = exception;
            }
        }

        Assert.NotNull(failure);
        Assert.NotNull(spool.WriteFailure);

        // With the directory back (an operator's mkdir), the next append starts a segment there and writes work again.
        Directory.CreateDirectory(_directory);
        Assert.True(await spool.TryAppendAsync(Record(1000)));
        Assert.Null(spool.WriteFailure);
        Assert.Single(Directory.GetFiles(_directory, "*.seg"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
