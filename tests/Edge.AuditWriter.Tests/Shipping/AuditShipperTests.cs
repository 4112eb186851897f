using Edge.Audit.Shipping;
using Edge.Audit.Spool;
using Edge.Audit.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Shipping;

public sealed class AuditShipperTests
{
    [Fact]
    public async Task Shipper_WriterRestartedMidStream_DeliversEveryRecordOnceAndAdvancesAckMark()
    {
        await using var writer = await WriterFixture.StartAsync();
        var spoolDirectory = Path.Combine(writer.Directory, "spool");
        await using var spool = await AuditSpool.OpenAsync(new SpoolOptions { Directory = spoolDirectory, SegmentBytes = 16 * 1024 });
        await using var shipper = new AuditShipper(spool,
            new ShipperOptions { WriterUrl = writer.BaseAddress, MaxBatchRecords = 50, InitialBackoff = TimeSpan.FromMilliseconds(20) },
            NullLogger.Instance);
        shipper.Start();

        for (var i = 0; i < 300; i++)
        {
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"s{i}", "acme")));
        }

        var port = writer.BaseAddress.Port;
        await writer.StopAppAsync();
        for (var i = 300; i < 600; i++)
        {
            Assert.True(await spool.TryAppendAsync(WriterFixture.Leaf($"s{i}", "acme")));
        }

        await writer.StartAppAsync();
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shipper.DrainAsync(drain.Token);

        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        var ids = store.Export(new RecordQuery()).Select(r => r.Id).ToList();
        Assert.Equal(600, ids.Count);
        Assert.Equal(Enumerable.Range(0, 600).Select(i => $"s{i}").Order(), ids.Order());
        Assert.Equal(600, spool.AckedSequence);
        Assert.Equal(600, spool.Metrics.Shipped);
        Assert.NotEqual(0, port);
    }
}
