using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Edge.Audit.Shipping;
using Edge.Audit.Spool;
using Edge.Audit.Storage;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Edge.AuditWriter.Tests.Shipping;

/// <summary>Several writers in Edge:Audit:WriterUrl: the shipper moves on, and no batch is lost or stored twice.</summary>
public sealed class AuditShipperFailoverTests
{
    [Fact]
    public async Task Shipper_FirstWriterAnswersStandby_RecordsLandOnSecondExactlyOnce()
    {
        using var standby = StandbyWriter();
        await using var writer = await WriterFixture.StartAsync();
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = Path.Combine(writer.Directory, "spool") });
        using var meters = new ShipperMeters();
        var standbyUrl = new Uri(standby.Urls[0]);
        await using var shipper = new AuditShipper(spool,
            new ShipperOptions { WriterUrls = [standbyUrl, writer.BaseAddress], MaxBatchRecords = 50, ShipInterval = TimeSpan.Zero },
            NullLogger.Instance, meterFactory: meters.Factory);
        shipper.Start();

        for (var i = 0; i < 200; i++)
        {
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"sb{i}", "acme")));
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shipper.DrainAsync(drain.Token);

        var ids = StoredIds(writer.StorePath);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"sb{i}").Order(), ids.Order());
        Assert.Equal(200, spool.AckedSequence);
        // One standby answer, then the shipper stays with the writer that acknowledges.
        Assert.Single(standby.LogEntries);
        Assert.Equal(1, shipper.Failovers);
        var writerLabel = $"http://{writer.BaseAddress.Authority}";
        Assert.Equal(writerLabel, shipper.CurrentWriter);
        Assert.Equal([($"http://{standbyUrl.Authority}", "standby")], meters.Failovers);
        Assert.Equal(1, meters.Current()[writerLabel]);
        Assert.Equal(0, meters.Current()[$"http://{standbyUrl.Authority}"]);
    }

    [Fact]
    public async Task Shipper_WriterAnswersIngestBusy_RetriesTheSameWriterWithoutFailoverAndEveryRecordLandsOnce()
    {
        using var standby = StandbyWriter();
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxConcurrentIngests=1"]);
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());
        var log = writer.Services.GetRequiredService<Edge.AuditWriter.Log.AuditLog>();
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = Path.Combine(writer.Directory, "spool") });
        await using var shipper = new AuditShipper(spool,
            new ShipperOptions { WriterUrls = [writer.BaseAddress, new Uri(standby.Urls[0])], MaxBatchRecords = 50, ShipInterval = TimeSpan.Zero },
            NullLogger.Instance);

        Task<HttpResponseMessage> other;
        using (await log.HoldAppendsAsync())
        {
            // Another edge's batch holds the writer's only ingest slot while the store stalls.
            other = writer.IngestAsync([WriterFixture.Leaf("other", "acme")], 1);
            await WaitUntilAsync(() => log.QueuedAppends == 1);
            shipper.Start();
            for (var i = 0; i < 120; i++)
            {
                Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"busy{i}", "acme")));
            }

            await WaitUntilAsync(() => measurements.Sum("edge.audit.ingest.busy") >= 2);
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shipper.DrainAsync(drain.Token);
        using var otherAnswer = await other;

        // A busy writer is the sequencer, only busy: moving on would only meet a standby (or a writer as busy).
        Assert.Equal(HttpStatusCode.OK, otherAnswer.StatusCode);
        Assert.Equal(0, shipper.Failovers);
        Assert.Empty(standby.LogEntries);
        Assert.Equal(120, spool.AckedSequence);
        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"busy{i}").Append("other").Order(), StoredIds(writer.StorePath).Order());
    }

    [Fact]
    public async Task Shipper_FirstWriterRefusesConnections_RecordsLandOnSecondExactlyOnce()
    {
        await using var writer = await WriterFixture.StartAsync();
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = Path.Combine(writer.Directory, "spool") });
        var closed = new Uri($"http://127.0.0.1:{FreePort.Next()}/");
        await using var shipper = new AuditShipper(spool,
            new ShipperOptions { WriterUrls = [closed, writer.BaseAddress], MaxBatchRecords = 50, ShipInterval = TimeSpan.Zero },
            NullLogger.Instance);
        shipper.Start();

        for (var i = 0; i < 120; i++)
        {
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"cl{i}", "acme")));
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shipper.DrainAsync(drain.Token);

        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"cl{i}").Order(), StoredIds(writer.StorePath).Order());
        Assert.Equal(120, spool.AckedSequence);
        Assert.Equal(1, shipper.Failovers);
        Assert.Equal($"http://{writer.BaseAddress.Authority}", shipper.CurrentWriter);
    }

    [Fact]
    public async Task Shipper_WritersDieMidStreamAfterCommitting_NoLossAndNoDuplicateInTheAcknowledgingStore()
    {
        await using var first = await WriterFixture.StartAsync();
        await using var second = await WriterFixture.StartAsync();
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = Path.Combine(first.Directory, "spool") });
        // The first writer commits its 4th batch and dies before the answer reaches the edge; the second commits its
        // 3rd batch and loses that answer too, so the same batch is stored again by a writer that already holds it.
        using var handler = new LostAnswerHandler(first, second);
        await using var shipper = new AuditShipper(spool,
            new ShipperOptions
            {
                WriterUrls = [first.BaseAddress, second.BaseAddress], MaxBatchRecords = 25, ShipInterval = TimeSpan.Zero,
                InitialBackoff = TimeSpan.FromMilliseconds(20),
            },
            NullLogger.Instance, handler);
        shipper.Start();

        for (var i = 0; i < 600; i++)
        {
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"m{i}", "acme")));
            if (i % 25 == 24)
            {
                await Task.Delay(10);
            }
        }

        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shipper.DrainAsync(drain.Token);
        await first.StopAppAsync();

        var inFirst = StoredIds(first.StorePath);
        var inSecond = StoredIds(second.StorePath);
        Assert.Equal(600, spool.AckedSequence);
        Assert.True(handler.FirstDied && handler.SecondLostAnAnswer, "both lost answers happened");
        Assert.Equal(inSecond.Count, inSecond.Distinct().Count());
        Assert.Equal(inFirst.Count, inFirst.Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 600).Select(i => $"m{i}").Order(), inFirst.Union(inSecond).Order());
        // The batch the first writer committed but never acknowledged went to the second as well.
        Assert.NotEmpty(inFirst.Intersect(inSecond));
        Assert.True(shipper.Failovers >= 2, $"failovers: {shipper.Failovers}");
    }

    [Fact]
    public async Task Shipper_EveryWriterDown_OneRoundThenWaitsForTheBackoffOnItsClock()
    {
        var directory = Directory.CreateTempSubdirectory("edge-shipper-").FullName;
        try
        {
            await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = directory });
            var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
            using var posts = new CountingHandler(new SocketsHttpHandler());
            await using var shipper = new AuditShipper(spool,
                new ShipperOptions
                {
                    WriterUrls = [new Uri($"http://127.0.0.1:{FreePort.Next()}/"), new Uri($"http://127.0.0.1:{FreePort.Next()}/")],
                    InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(4),
                },
                NullLogger.Instance, posts, clock);
            shipper.Start();
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf("down-1", "acme")));

            await WaitUntilAsync(() => posts.Count == 2);
            // Each writer refused once; without the clock moving, no further attempt (no busy loop).
            await Task.Delay(300);
            Assert.Equal(2, posts.Count);

            clock.Advance(TimeSpan.FromSeconds(1.25));
            await WaitUntilAsync(() => posts.Count == 4);
            await Task.Delay(300);
            Assert.Equal(4, posts.Count);
            Assert.Equal(0, spool.AckedSequence);
            Assert.Equal(4, shipper.Failovers);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static WireMockServer StandbyWriter()
    {
        var server = WireMockServer.Start();
        server.Given(Request.Create().WithPath(IngestProtocol.Path).UsingPost())
            .RespondWith(Response.Create().WithStatusCode(503)
                .WithHeader("Content-Type", "application/problem+json")
                .WithHeader("Retry-After", "1")
                .WithBody("""{"type":"about:blank","title":"Standby writer","status":503,"code":"writer_standby"}"""));
        return server;
    }

    private static List<string> StoredIds(string storePath)
    {
        using var store = AuditStore.OpenReadOnly(storePath);
        return store.Export(new RecordQuery()).Select(r => r.Id).ToList();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition(), "condition not met within 5 s");
    }

    /// <summary>Lets a post reach the writer and commit, then drops the answer as a connection reset would.</summary>
    private sealed class LostAnswerHandler(WriterFixture first, WriterFixture second) : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly int _firstPort = first.BaseAddress.Port;
        private readonly int _secondPort = second.BaseAddress.Port;
        private int _firstPosts;
        private int _secondPosts;

        public bool FirstDied { get; private set; }

        public bool SecondLostAnAnswer { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri!.Port == _firstPort && ++_firstPosts == 4 && response.IsSuccessStatusCode)
            {
                response.Dispose();
                await first.StopAppAsync();
                FirstDied = true;
                throw new HttpRequestException("connection reset after the first writer committed");
            }

            if (request.RequestUri.Port == _secondPort && ++_secondPosts == 3 && response.IsSuccessStatusCode)
            {
                response.Dispose();
                SecondLostAnAnswer = true;
                throw new HttpRequestException("connection reset after the second writer committed");
            }

            return response;
        }
    }

    private sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>The shipper's instruments on a meter factory of this test only, read with a MeterListener.</summary>
    private sealed class ShipperMeters : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Writer, string Reason)> _failovers = new();
        private readonly Dictionary<string, int> _current = new(StringComparer.Ordinal);

        public ShipperMeters()
        {
            Factory = _services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, Factory) && instrument.Name.StartsWith("edge.audit.writer.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                for (var i = 0; i < value; i++)
                {
                    _failovers.Enqueue((Tag(tags, "writer"), Tag(tags, "reason")));
                }
            });
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => _current[Tag(tags, "writer")] = value);
            _listener.Start();
        }

        public IMeterFactory Factory { get; }

        public IReadOnlyList<(string Writer, string Reason)> Failovers => [.. _failovers];

        public IReadOnlyDictionary<string, int> Current()
        {
            _current.Clear();
            _listener.RecordObservableInstruments();
            return new Dictionary<string, int>(_current, StringComparer.Ordinal);
        }

        public void Dispose()
        {
            _listener.Dispose();
            _services.Dispose();
        }

        private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == name)
                {
                    return (string)tag.Value!;
                }
            }

            return "";
        }
    }
}
