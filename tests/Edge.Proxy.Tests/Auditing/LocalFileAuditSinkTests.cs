using System.Diagnostics.Metrics;
using System.Text.Json;
using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Pipeline;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Edge.Proxy.Tests.Auditing;

public sealed class LocalFileAuditSinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-local-audit-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RecordAsync_DrainLoopNotRunning_ReturnsCompletedWithoutTouchingTheFile()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 16);

        var pending = sink.RecordAsync(Context(), Request("req-1"));

        // The request thread only queues the record: nothing waits for, or performs, file I/O.
        Assert.True(pending.IsCompletedSuccessfully);
        Assert.False(File.Exists(path));

        await sink.StartAsync(CancellationToken.None);
        await sink.StopAsync(CancellationToken.None);

        var line = Assert.Single(await File.ReadAllLinesAsync(path));
        using var record = JsonDocument.Parse(line);
        Assert.Equal("req-1", record.RootElement.GetProperty("id").GetString());
        Assert.Equal("deny", record.RootElement.GetProperty("data").GetProperty("decision").GetString());
    }

    [Fact]
    public async Task StopAsync_HostShutdownTimeoutAlreadySpent_StillWritesTheQueuedRecords()
    {
        // A shutdown whose drain window ran out (Kestrel then cut off the requests in flight) stops the sink with the
        // host's token already fired; the records of those requests are the last ones queued. Before, the stop gave up at
        // once (throwing) and left them unwritten.
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 16);
        await sink.StartAsync(CancellationToken.None);
        Assert.True(sink.RecordAsync(Context(), Request("req-cut-off")).IsCompletedSuccessfully);

        await sink.StopAsync(new CancellationToken(canceled: true));

        var line = Assert.Single(await File.ReadAllLinesAsync(path));
        using var record = JsonDocument.Parse(line);
        Assert.Equal("req-cut-off", record.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task StartAsync_NewFile_ReadableByUserAndGroupOnly()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 16);
        Assert.True(sink.RecordAsync(Context(), Request("req-1")).IsCompletedSuccessfully);

        await sink.StartAsync(CancellationToken.None);
        await sink.StopAsync(CancellationToken.None);

        Assert.Single(await File.ReadAllLinesAsync(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task RecordAsync_QueueFull_DropsAndCountsInsteadOfBlocking()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 2);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(sink.RecordAsync(Context(), Request("req-" + i)).IsCompletedSuccessfully);
        }

        await sink.StartAsync(CancellationToken.None);
        await sink.StopAsync(CancellationToken.None);

        Assert.Equal(3, sink.Dropped);
        Assert.Equal(2, (await File.ReadAllLinesAsync(path)).Length);
    }

    [Fact]
    public async Task RecordAsync_QueueFull_DropsExportedAsTheSpoolsDropCounter()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        long? observed = null;
        using var listener = new MeterListener
        {
            // Meters are process-wide: only this test's factory, so another test's sink or spool is not read.
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "edge.audit.dropped")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => observed = value);
        listener.Start();
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 2, meterFactory: factory);

        listener.RecordObservableInstruments();
        var atStart = observed;
        for (var i = 0; i < 5; i++)
        {
            await sink.RecordAsync(Context(), Request("req-" + i));
        }

        listener.RecordObservableInstruments();

        Assert.Equal(0, atStart);
        Assert.Equal(3, observed);
        Assert.Equal(3, sink.Dropped);
    }

    [Fact]
    public async Task RecordAsync_WithinFlushInterval_GathersUntilTheIntervalHasPassed()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var sink = Create(path, capacity: 16, time, TimeSpan.FromMilliseconds(20));
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);

        await sink.RecordAsync(Context(), Request("req-2"));
        // Real time passes, the sink's clock does not: the second record waits for the next write.
        await Task.Delay(300);
        var gathered = await ReadLinesAsync(path);
        await WaitForLinesAsync(path, 2, time, TimeSpan.FromMilliseconds(20));
        await sink.StopAsync(CancellationToken.None);

        Assert.Single(gathered);
        Assert.Equal(2, (await ReadLinesAsync(path)).Count);
    }

    [Fact]
    public async Task RecordAsync_ManyThreadsWhileTheLoopWrites_EveryRecordIsOneWholeLine()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 100_000, TimeProvider.System, TimeSpan.FromMilliseconds(1));
        await sink.StartAsync(CancellationToken.None);
        const int Writers = 4;
        const int PerWriter = 2_000;

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                await sink.RecordAsync(Context(), Request($"req-{writer}-{i}"));
            }
        })));
        await sink.StopAsync(CancellationToken.None);

        var ids = (await ReadLinesAsync(path)).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(Writers * PerWriter, ids.Count);
        Assert.Equal(Writers * PerWriter, ids.Distinct().Count());
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task TryAppendAsync_SecurityEvent_WrittenAsItsOwnLine()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        using var sink = Create(path, capacity: 16);
        await sink.StartAsync(CancellationToken.None);

        Assert.True(await sink.TryAppendAsync("{\"id\":\"event-1\"}"u8.ToArray()));
        await sink.RecordAsync(Context(), Request("req-1"));
        await sink.StopAsync(CancellationToken.None);

        var lines = await ReadLinesAsync(path);
        Assert.Equal(2, lines.Count);
        Assert.Equal("{\"id\":\"event-1\"}", lines[0]);
        Assert.Equal("req-1", JsonDocument.Parse(lines[1]).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task RecordAsync_DiskFullForAWhile_RetriedBatchLandsAsWholeLinesAfterSpaceReturns()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        FullDiskFile? file = null;
        using var sink = Create(path, capacity: 16, time, TimeSpan.Zero, p => file = new FullDiskFile(p));
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);

        // The disk fills: each write lands half its bytes, then fails as ENOSPC does.
        // req-3 only after the first failed write, so the half-written bytes are part of one line. The sink cuts them
        // off after the failure returns; the file is read once that is done (a loaded host read it in between and saw
        // the half line), and never gets a whole line: the retries wait for the fake clock.
        file!.FailNextWrites = 3;
        await sink.RecordAsync(Context(), Request("req-2"));
        await WaitUntilAsync(() => file.FailNextWrites == 2);
        var duringOutage = await ReadLinesAsync(path);
        for (var attempt = 0; attempt < 200 && duringOutage.Count != 1; attempt++)
        {
            await Task.Delay(20);
            duringOutage = await ReadLinesAsync(path);
        }

        await sink.RecordAsync(Context(), Request("req-3"));

        // Space returns: the retries (one per second of the sink's clock) land the kept batch.
        await WaitForLinesAsync(path, 3, time, LocalFileAuditSink.RetryInterval);
        await sink.RecordAsync(Context(), Request("req-4"));
        await sink.StopAsync(CancellationToken.None);

        Assert.Single(duringOutage);
        var ids = (await ReadLinesAsync(path)).Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetString()).ToList();
        Assert.Equal(["req-1", "req-2", "req-3", "req-4"], ids);
        Assert.Equal(0, file.FailNextWrites);
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task AuditHealthCheck_LocalFileWritesFailing_DegradedNamingTheFileUntilAWriteWorks()
    {
        // /readyz said "records go to the local file" while every write to it failed.
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        FullDiskFile? file = null;
        using var sink = Create(path, capacity: 16, time, TimeSpan.Zero, p => file = new FullDiskFile(p));
        using var services = new ServiceCollection().AddSingleton(sink).BuildServiceProvider();
        var check = new AuditSpoolHealthCheck(services, Options.Create(new EdgeAuditOptions { LocalFile = path }));
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);
        var before = await check.CheckHealthAsync(new HealthCheckContext());

        file!.FailNextWrites = 1;
        await sink.RecordAsync(Context(), Request("req-2"));
        await WaitUntilAsync(() => sink.WriteFailing);
        var failing = await check.CheckHealthAsync(new HealthCheckContext());

        await WaitForLinesAsync(path, 2, time, LocalFileAuditSink.RetryInterval);
        await WaitUntilAsync(() => !sink.WriteFailing);
        var after = await check.CheckHealthAsync(new HealthCheckContext());
        await sink.StopAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, before.Status);
        Assert.Contains(path, before.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Degraded, failing.Status);
        Assert.Contains(path, failing.Description, StringComparison.Ordinal);
        Assert.Contains("1512", failing.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, after.Status);
    }

    [Fact]
    public async Task AuditHealthCheck_LocalFileEmpty_SaysRecordsAreOnlyLogged()
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var check = new AuditSpoolHealthCheck(services, Options.Create(new EdgeAuditOptions { LocalFile = "" }));

        var result = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Contains("only logged", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordAsync_FileRenamedAway_LaterRecordsGoToANewFileAtThePath()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var sink = Create(path, capacity: 16, time, TimeSpan.Zero);
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);

        // logrotate's default: rename, then (with "create") a new empty file at the path.
        File.Move(path, path + ".1");
        await File.WriteAllTextAsync(path, "");
        time.Advance(LocalFileAuditSink.RotationCheckInterval);
        await sink.RecordAsync(Context(), Request("req-2"));
        await WaitForLinesAsync(path, 1);
        File.Move(path, path + ".2");
        time.Advance(LocalFileAuditSink.RotationCheckInterval);
        await sink.RecordAsync(Context(), Request("req-3"));
        await WaitForLinesAsync(path, 1);
        await sink.StopAsync(CancellationToken.None);

        Assert.Equal(["req-1"], Ids(await ReadLinesAsync(path + ".1")));
        Assert.Equal(["req-2"], Ids(await ReadLinesAsync(path + ".2")));
        Assert.Equal(["req-3"], Ids(await ReadLinesAsync(path)));
    }

    [Fact]
    public async Task RecordAsync_PathCannotBeOpenedAfterRemoval_KeptBatchWaitsForThePathNotTheOldFile()
    {
        // The new file could not be opened after a removal. A retry whose timer fired a millisecond before the rotation
        // check's second was up took the old handle: the batch went into the deleted file and 1513 said writing worked.
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new EarlyTimers(DateTimeOffset.UnixEpoch);
        using var sink = Create(path, capacity: 16, time, TimeSpan.Zero);
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);

        File.Delete(path);
        Directory.CreateDirectory(path);
        time.Advance(LocalFileAuditSink.RotationCheckInterval);
        await sink.RecordAsync(Context(), Request("req-2"));
        await WaitUntilAsync(() => sink.WriteFailing);
        for (var retry = 0; retry < 5; retry++)
        {
            time.Advance(LocalFileAuditSink.RetryInterval - EarlyTimers.Early);
            await Task.Delay(100);
        }

        var failingUntilThePathOpens = sink.WriteFailing;
        Directory.Delete(path);
        await WaitForLinesAsync(path, 1, time, LocalFileAuditSink.RetryInterval);
        await sink.StopAsync(CancellationToken.None);

        Assert.True(failingUntilThePathOpens);
        Assert.Equal(["req-2"], Ids(await ReadLinesAsync(path)));
    }

    [Fact]
    public async Task RecordAsync_FileCopiedAndTruncated_NextRecordsStartAtTheNewEndWithoutZeroBytes()
    {
        var path = Path.Combine(_directory, "decisions.ndjson");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var sink = Create(path, capacity: 16, time, TimeSpan.Zero);
        await sink.StartAsync(CancellationToken.None);
        await sink.RecordAsync(Context(), Request("req-1"));
        await WaitForLinesAsync(path, 1);

        // logrotate's copytruncate: the same file, emptied in place.
        File.Copy(path, path + ".1");
        await using (var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            truncate.SetLength(0);
        }

        time.Advance(LocalFileAuditSink.RotationCheckInterval);

        await sink.RecordAsync(Context(), Request("req-2"));
        await WaitForLinesAsync(path, 1);
        await sink.StopAsync(CancellationToken.None);

        var bytes = await File.ReadAllBytesAsync(path);
        Assert.DoesNotContain((byte)0, bytes);
        Assert.Equal(["req-2"], Ids(await ReadLinesAsync(path)));
    }

    private static List<string?> Ids(List<string> lines) =>
        lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("id").GetString()).ToList();

    /// <summary>A fake clock whose timers fire <see cref="Early"/> before their time, as the system's timers may against its stopwatch.</summary>
    private sealed class EarlyTimers(DateTimeOffset start) : FakeTimeProvider(start)
    {
        public static readonly TimeSpan Early = TimeSpan.FromMilliseconds(1);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            base.CreateTimer(callback, state, dueTime > Early ? dueTime - Early : dueTime, period);
    }

    /// <summary>A real file whose next writes write half their bytes and then fail with "No space left on device".</summary>
    private sealed class FullDiskFile(string path) : FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 0, FileOptions.Asynchronous)
    {
        private int _failNextWrites;

        public int FailNextWrites
        {
            get => Volatile.Read(ref _failNextWrites);
            set => Volatile.Write(ref _failNextWrites, value);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (FailNextWrites > 0)
            {
                await base.WriteAsync(buffer[..(buffer.Length / 2)], cancellationToken);
                Interlocked.Decrement(ref _failNextWrites);
                throw new IOException("No space left on device");
            }

            await base.WriteAsync(buffer, cancellationToken);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> done)
    {
        for (var attempt = 0; attempt < 200 && !done(); attempt++)
        {
            await Task.Delay(20);
        }
    }

    private static async Task WaitForLinesAsync(string path, int count, FakeTimeProvider? time = null, TimeSpan advanceEachTry = default)
    {
        for (var attempt = 0; attempt < 200 && (await ReadLinesAsync(path)).Count < count; attempt++)
        {
            // The loop registers its flush delay on the fake clock only once it gets a thread; an advance made before
            // that wakes nothing, so keep advancing while waiting.
            time?.Advance(advanceEachTry);
            await Task.Delay(50);
        }
    }

    private static async Task<List<string>> ReadLinesAsync(string path)
    {
        var lines = new List<string>();
        if (!File.Exists(path))
        {
            return lines;
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    private static LocalFileAuditSink Create(
        string path, int capacity, TimeProvider? time = null, TimeSpan? flushInterval = null, Func<string, Stream>? open = null,
        IMeterFactory? meterFactory = null)
    {
        var options = Options.Create(new EdgeAuditOptions { LocalFile = path, LocalQueueCapacity = capacity, LocalFlushInterval = flushInterval ?? TimeSpan.FromMilliseconds(20) });
        var host = new EdgeHostOptions { InstanceId = "edge-test" };
        return new(options, host, time ?? new FakeTimeProvider(DateTimeOffset.UnixEpoch), NullLogger<LocalFileAuditSink>.Instance, open, meterFactory);
    }

    private static DefaultHttpContext Context()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/orders";
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return context;
    }

    private static EdgeRequestFeature Request(string id)
    {
        var request = new EdgeRequestFeature { RequestId = id, RouteId = "r1", StartedAt = DateTimeOffset.UnixEpoch };
        request.Deny("EdgeRequire", "permission_denied");
        return request;
    }
}
