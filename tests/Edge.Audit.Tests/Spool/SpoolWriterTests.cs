using System.Collections.Concurrent;
using Edge.Audit.Spool;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Audit.Tests.Spool;

public sealed class SpoolWriterTests : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly SpoolTestDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
    private SpoolWriter? _writer;
    private SpoolBacklog? _backlog;

    [Fact]
    public async Task TryAppendAsync_ProcessCrash_CompletesOnceWrittenWithoutWaitingForTheCommitInterval()
    {
        var (writer, segments) = Start(_directory.Options() with { CommitInterval = TimeSpan.FromHours(1) });

        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));

        Assert.Equal(1, writer.DurableSequence);
        Assert.Equal(SpoolTestDirectory.FrameBytes(1), segments.Bytes);
        // In the page cache before completing: another reader of the file sees the frame.
        Assert.Equal(SpoolTestDirectory.Frame(1, SpoolTestDirectory.Record(1), 1_700_000_000_000), ReadFile(1, SpoolTestDirectory.FrameBytes(1)));
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrash_WhileAnFsyncHangs_KeepsCompletingAppends()
    {
        // Zero commit interval: the old loop fsynced inline after every batch, so one slow fsync stalled every response.
        var (writer, segments) = Start(_directory.Options() with { CommitInterval = TimeSpan.Zero });
        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));

        using var release = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        // The lock every fsync takes, held on a thread of its own: a disk that does not answer.
        var slowDisk = Task.Factory.StartNew(() =>
        {
            lock (segments.SyncLock)
            {
                held.Set();
                // Longer than an append may take: a write loop stuck behind this fsync fails the test, not slows it.
                release.Wait(Patience * 3);
            }
        }, TaskCreationOptions.LongRunning);
        held.Wait(Patience);
        try
        {
            for (var i = 2; i <= 20; i++)
            {
                Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(i)).AsTask().WaitAsync(Patience));
            }

            Assert.Equal(20, writer.DurableSequence);
        }
        finally
        {
            release.Set();
            await slowDisk;
        }
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrash_FsyncRunsOffTheThreadPool()
    {
        // A blocking fsync on a pool thread takes a worker the requests need for as long as the disk takes (a 2-core
        // host runs about two); the old code queued every fsync to the pool.
        var (writer, segments) = Start(_directory.Options() with { CommitInterval = TimeSpan.Zero });
        var syncThreads = new ConcurrentQueue<(bool Pool, string? Name)>();
        segments.SyncStarting = () => syncThreads.Enqueue((Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name));

        for (var i = 1; i <= 20; i++)
        {
            Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(i)).AsTask().WaitAsync(Patience));
        }

        var deadline = DateTime.UtcNow + Patience;
        while (syncThreads.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.NotEmpty(syncThreads);
        Assert.All(syncThreads, thread => Assert.False(thread.Pool, $"fsync on a pool thread ({thread.Name})"));
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrashWithDefaultInterval_FsyncsOneHundredMillisecondsAfterTheAppend()
    {
        var (writer, segments) = Start(_directory.Options());
        var syncs = 0;
        segments.SyncStarting = () => Interlocked.Increment(ref syncs);

        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));
        _time.Advance(TimeSpan.FromMilliseconds(99));
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref syncs));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var deadline = DateTime.UtcNow + Patience;
        while (Volatile.Read(ref syncs) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, Volatile.Read(ref syncs));
    }

    [Fact]
    public async Task TryAppendAsync_PowerLossWithDefaultInterval_CompletesAfterTwoMilliseconds()
    {
        var (writer, _) = Start(_directory.Options() with { Durability = SpoolDurability.PowerLoss });

        var append = writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Task.Delay(200);
        Assert.False(append.IsCompleted);

        await AdvanceOneIntervalAtATimeUntilAsync(append, TimeSpan.FromMilliseconds(1));
        Assert.True(await append);
        Assert.Equal(1, writer.DurableSequence);
    }

    [Fact]
    public async Task TryAppendAsync_CompletionsAwaitedOneAtATime_AllocateNothingOnTheCallersThread()
    {
        var (writer, _) = Start(_directory.Options(maxBytes: 64 << 20, segmentBytes: 64 << 20) with { CommitInterval = TimeSpan.FromHours(1) });
        var record = SpoolTestDirectory.Record(1);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(await writer.TryAppendAsync(record).AsTask().WaitAsync(Patience));
        }

        // Only the call itself is counted (the await may resume on another thread): the old append allocated a
        // TaskCompletionSource and its Task, about 100 bytes, on every call. An uncontended append now writes its frame
        // on this thread, so the backlog of unacknowledged records is drained as acknowledgements would drain it:
        // otherwise its ring would grow for the test's 1,100 records, which no running edge keeps unacknowledged.
        _backlog!.ReleaseThrough(writer.DurableSequence);
        long allocated = 0;
        const int Appends = 1000;
        for (var i = 0; i < Appends; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var append = writer.TryAppendAsync(record);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(await append);
            _backlog.ReleaseThrough(writer.DurableSequence);
        }

        Assert.True(allocated < Appends, $"{allocated} bytes allocated by {Appends} appends");
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrash_NothingQueued_WritesOnTheCallersThreadAndCompletesAtOnce()
    {
        var (writer, segments) = Start(_directory.Options() with { CommitInterval = TimeSpan.FromHours(1) });

        var append = writer.TryAppendAsync(SpoolTestDirectory.Record(1));

        // No hop to the write loop: the response waiting for this record continues synchronously.
        Assert.True(append.IsCompletedSuccessfully);
        Assert.True(await append);
        Assert.Equal(1, writer.DurableSequence);
        Assert.Equal(SpoolTestDirectory.Frame(1, SpoolTestDirectory.Record(1), 1_700_000_000_000), ReadFile(1, SpoolTestDirectory.FrameBytes(1)));
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrash_ManyThreadsAtOnce_WritesEveryFrameOnceInSequence()
    {
        var (writer, _) = Start(_directory.Options(maxBytes: 64 << 20, segmentBytes: 64 << 20) with { CommitInterval = TimeSpan.FromHours(1) });
        const int Threads = 8;
        const int PerThread = 250;
        using var start = new Barrier(Threads);
        // Appends that meet a write in progress queue for the loop; the others write inline: both share one sequence.
        var workers = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(async () =>
        {
            start.SignalAndWait(Patience);
            for (var i = 0; i < PerThread; i++)
            {
                Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record((t * PerThread) + i)));
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()).ToArray();
        await Task.WhenAll(workers).WaitAsync(Patience * 3);
        await writer.CloseAsync().WaitAsync(Patience);

        Assert.Equal(Threads * PerThread, writer.DurableSequence);
        Assert.Equal((long)Threads * PerThread * SpoolTestDirectory.FrameBytes(1), new FileInfo(SpoolSegmentSet.PathFor(_directory.Path, 1)).Length);
    }

    [Fact]
    public async Task TryAppendAsync_PowerLoss_CompletesOnlyAfterTheCommitInterval()
    {
        var (writer, _) = Start(_directory.Options() with { Durability = SpoolDurability.PowerLoss, CommitInterval = TimeSpan.FromSeconds(1) });

        var append = writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask();
        await Task.Delay(200);
        Assert.False(append.IsCompleted);
        Assert.Equal(0, writer.DurableSequence);

        await AdvanceOneIntervalAtATimeUntilAsync(append, TimeSpan.FromSeconds(1));
        Assert.True(await append);
        Assert.Equal(1, writer.DurableSequence);
    }

    [Fact]
    public async Task TryAppendAsync_PowerLoss_AppendsWithinOneIntervalShareOneCommit()
    {
        var (writer, _) = Start(_directory.Options() with { Durability = SpoolDurability.PowerLoss, CommitInterval = TimeSpan.FromSeconds(1) });

        var appends = Enumerable.Range(1, 20).Select(i => writer.TryAppendAsync(SpoolTestDirectory.Record(i)).AsTask()).ToList();
        await Task.Delay(200);
        Assert.DoesNotContain(appends, a => a.IsCompleted);

        var all = Task.WhenAll(appends);
        await AdvanceOneIntervalAtATimeUntilAsync(all, TimeSpan.FromSeconds(1));
        Assert.All(await all, Assert.True);
        Assert.Equal(20, writer.DurableSequence);
    }

    [Fact]
    public async Task TryAppendAsync_OverSizeCap_ReturnsFalseAtOnce()
    {
        var (writer, segments) = Start(_directory.Options(maxBytes: 2 * SpoolTestDirectory.FrameBytes(1)));

        var first = writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask();
        var second = writer.TryAppendAsync(SpoolTestDirectory.Record(2)).AsTask();
        var third = writer.TryAppendAsync(SpoolTestDirectory.Record(3));

        Assert.True(third.IsCompleted);
        Assert.False(await third);
        Assert.False(writer.HasRoomFor(1));
        Assert.True(await first.WaitAsync(Patience));
        Assert.True(await second.WaitAsync(Patience));
        Assert.Equal(2 * SpoolTestDirectory.FrameBytes(1), segments.Bytes);
    }

    [Theory]
    [InlineData(SpoolDurability.ProcessCrash)]
    [InlineData(SpoolDurability.PowerLoss)]
    public async Task TryAppendAsync_SegmentCannotBeCreated_FailsTheAppendAndReservesNothing(SpoolDurability durability)
    {
        // Room for three frames. The first segment cannot be created (its directory is gone, as a full disk fails the
        // open that reserves a new segment's blocks with an IOException): every append fails, more than the cap holds.
        var (writer, _) = Start(_directory.Options(maxBytes: 3 * SpoolTestDirectory.FrameBytes(1)) with { Durability = durability, CommitInterval = TimeSpan.Zero });
        Directory.Delete(_directory.Path);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(writer.IsUnderCap(SpoolTestDirectory.Record(1).Length), $"No room left after {i} failed appends");
            await Assert.ThrowsAnyAsync<IOException>(async () => await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));
        }

        // Admission refuses while writes fail (one caller a second is let through to try again).
        Assert.False(writer.HasRoomFor(SpoolTestDirectory.Record(1).Length));

        // Once the disk has room again, the spool takes records: a failed append kept none of the cap reserved.
        Directory.CreateDirectory(_directory.Path);
        Assert.True(writer.IsUnderCap(SpoolTestDirectory.Record(1).Length));
        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));
        Assert.Equal(1, writer.DurableSequence);
    }

    [Fact]
    public async Task TryAppendAsync_PowerLossBatchWhoseRollFails_CompletesTheFramesWrittenBeforeItAndFailsTheRest()
    {
        // A segment holds two frames. Record 1 fills half of the first; one batch then brings records 2 to 5: record 2
        // fits, record 3 needs a new segment, which cannot be created (as a full disk fails the open that reserves its
        // blocks). Record 2's frame is in the spool and would ship with the next batch: its append failing told a
        // required route to abort a client whose record the trail then holds as answered.
        var options = _directory.Options(segmentBytes: 2 * SpoolTestDirectory.FrameBytes(1)) with { Durability = SpoolDurability.PowerLoss, CommitInterval = TimeSpan.FromSeconds(1) };
        var (writer, _) = Start(options);
        var append = writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask();
        await AdvanceOneIntervalAtATimeUntilAsync(append, TimeSpan.FromSeconds(1));
        Assert.True(await append);
        Directory.CreateDirectory(SpoolSegmentSet.PathFor(_directory.Path, 3));

        var batch = Enumerable.Range(2, 4).Select(i => writer.TryAppendAsync(SpoolTestDirectory.Record(i)).AsTask()).ToList();
        await AdvanceOneIntervalAtATimeUntilAsync(Task.WhenAll(batch).ContinueWith(_ => { }, TaskScheduler.Default), TimeSpan.FromSeconds(1));

        Assert.True(await batch[0]);
        foreach (var failed in batch.Skip(1))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => failed);
        }

        Assert.Equal(2, writer.DurableSequence);
        Assert.Equal(1, writer.WriteFailures);

        // Once the segment can be created, the next record follows record 2 without a gap, and the cap holds no room for
        // the records that failed.
        Directory.Delete(SpoolSegmentSet.PathFor(_directory.Path, 3));
        _time.Advance(SpoolWriter.FailureProbeInterval);
        var next = writer.TryAppendAsync(SpoolTestDirectory.Record(6)).AsTask();
        await AdvanceOneIntervalAtATimeUntilAsync(next, TimeSpan.FromSeconds(1));
        Assert.True(await next);
        Assert.Equal(3, writer.DurableSequence);
        Assert.True(writer.IsUnderCap((int)(options.MaxBytes - (3 * SpoolTestDirectory.FrameBytes(1)) - SpoolFrame.HeaderSize)));
    }

    [Fact]
    public async Task TryAppendAsync_PowerLossFsyncFails_FailsTheAppendsCountsItAndRefusesUntilAnFsyncWorks()
    {
        // An fsync answered EIO (the disk failed writeback): the frames are written but not durable, and PowerLoss
        // promised durable. The appends failed before, but neither the failure count nor /readyz's WriteFailure moved.
        var (writer, segments) = Start(_directory.Options() with { Durability = SpoolDurability.PowerLoss, CommitInterval = TimeSpan.Zero });
        var failFsync = 1;
        segments.SyncStarting = () =>
        {
            if (Volatile.Read(ref failFsync) == 1)
            {
                throw new IOException("Input/output error");
            }
        };

        await Assert.ThrowsAnyAsync<IOException>(async () => await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));

        Assert.Equal(1, writer.WriteFailures);
        Assert.Equal("Input/output error", writer.WriteFailure?.Message);
        Assert.False(writer.HasRoomFor(SpoolTestDirectory.Record(2).Length));

        Volatile.Write(ref failFsync, 0);
        _time.Advance(SpoolWriter.FailureProbeInterval);
        Assert.True(writer.HasRoomFor(SpoolTestDirectory.Record(2).Length));
        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(2)).AsTask().WaitAsync(Patience));
        Assert.Null(writer.WriteFailure);
        Assert.Equal(1, writer.WriteFailures);
    }

    [Fact]
    public async Task TryAppendAsync_ProcessCrashFsyncFails_CountsItAndKeepsAppending()
    {
        // Nothing waits for this fsync and the frames stay in the page cache for the shipper: the failure was silent.
        var (writer, segments) = Start(_directory.Options() with { CommitInterval = TimeSpan.Zero });
        var failedFsyncs = 0;
        segments.SyncStarting = () =>
        {
            Interlocked.Increment(ref failedFsyncs);
            throw new IOException("Input/output error");
        };

        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));
        var deadline = DateTime.UtcNow + Patience;
        while (writer.WriteFailures == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.True(writer.WriteFailures >= 1);
        Assert.True(writer.WriteFailures <= Volatile.Read(ref failedFsyncs));
        Assert.Null(writer.WriteFailure);
        Assert.True(writer.HasRoomFor(SpoolTestDirectory.Record(2).Length));
        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(2)).AsTask().WaitAsync(Patience));
        Assert.Equal(2, writer.DurableSequence);
    }

    [Fact]
    public async Task CloseAsync_WithQueuedAppends_WritesThemAllThenRefusesMore()
    {
        var (writer, _) = Start(_directory.Options());
        var appends = Enumerable.Range(1, 50).Select(i => writer.TryAppendAsync(SpoolTestDirectory.Record(i)).AsTask()).ToList();

        await writer.CloseAsync().WaitAsync(Patience);

        // Written before CloseAsync returned (the sequence and the file say so); the completions reach their awaiters
        // on the thread pool, so they are awaited rather than inspected.
        Assert.Equal(50, writer.DurableSequence);
        Assert.All(await Task.WhenAll(appends).WaitAsync(Patience), Assert.True);
        Assert.Equal(50L * SpoolTestDirectory.FrameBytes(1), new FileInfo(SpoolSegmentSet.PathFor(_directory.Path, 1)).Length);
        Assert.False(await writer.TryAppendAsync(SpoolTestDirectory.Record(51)));
    }

    [Fact]
    public async Task WaitForDurableAsync_RecordAppendedLater_CompletesWhenItIsDurable()
    {
        var (writer, _) = Start(_directory.Options());
        var wait = writer.WaitForDurableAsync(0, CancellationToken.None);
        Assert.False(wait.IsCompleted);

        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));

        await wait.WaitAsync(Patience);
        Assert.True(writer.WaitForDurableAsync(0, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Start_AfterRecoveredSequence_NumbersFramesFromTheNextOne()
    {
        var (writer, _) = Start(_directory.Options(), lastSequence: 41);

        Assert.True(await writer.TryAppendAsync(SpoolTestDirectory.Record(1)).AsTask().WaitAsync(Patience));

        Assert.Equal(42, writer.DurableSequence);
        Assert.True(File.Exists(SpoolSegmentSet.PathFor(_directory.Path, 42)));
    }

    /// <summary>The first bytes of a segment file, read through a handle of its own while the writer holds it open.</summary>
    private byte[] ReadFile(long firstSequence, int count)
    {
        using var handle = File.OpenHandle(SpoolSegmentSet.PathFor(_directory.Path, firstSequence), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[count];
        Assert.Equal(count, RandomAccess.Read(handle, bytes, 0));
        return bytes;
    }

    private (SpoolWriter Writer, SpoolSegmentSet Segments) Start(SpoolOptions options, long lastSequence = 0)
    {
        var segments = new SpoolSegmentSet(options);
        _backlog = new SpoolBacklog(_time);
        _writer = new SpoolWriter(options, segments, _backlog, _time);
        _writer.Start(lastSequence);
        return (_writer, segments);
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.CloseAsync();
        }

        _directory.Dispose();
    }

    /// <summary>
    /// The write loop registers its commit-interval delay on the fake clock only once it gets a thread; on a busy host an
    /// advance can land before that and then wakes nothing. Advancing again each interval until the task completes (the
    /// task cannot complete without an advance) keeps the test about the interval, not about thread scheduling.
    /// </summary>
    private async Task AdvanceOneIntervalAtATimeUntilAsync(Task task, TimeSpan interval)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!task.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "the append did not complete after advancing the clock");
            _time.Advance(interval);
            await Task.WhenAny(task, Task.Delay(50));
        }
    }
}
