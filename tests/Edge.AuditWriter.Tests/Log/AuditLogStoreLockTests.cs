using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Log;

public sealed class AuditLogStoreLockTests : IDisposable
{
    private readonly WriterStoreDirectory _store = new("edge-audit-lock-");

    private WriterOptions Options => _store.Options;

    private static List<PendingLeaf> Leaves(int first, int count) =>
        Enumerable.Range(first, count).Select(i => AuditLogTilesTests.Pending(WriterFixture.Leaf($"lock{i}", "acme"))).ToList();

    [Fact]
    public async Task Open_StoreOfAnotherLiveWriter_ThrowsStoreInUseAndTheFirstKeepsAppending()
    {
        using var first = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        await first.AppendAsync(Leaves(0, 3), CancellationToken.None);

        // A second writer with the same Writer:StorePath: before, it opened, appended at the indexes the first held in
        // memory, and the first failed every later batch on the unique index while both signed diverging checkpoints.
        var refused = Assert.Throws<AuditStoreInUseException>(() => new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance));
        Assert.Contains("Writer:Postgres", refused.Message, StringComparison.Ordinal);

        await first.AppendAsync(Leaves(3, 3), CancellationToken.None);
        Assert.True(await first.CheckpointAsync(CancellationToken.None));
        Assert.Equal(6, first.Size);
        Assert.Equal(6, first.LatestCheckpoint.Size);
    }

    [Fact]
    public async Task Open_AfterThePreviousWriterWasDisposed_OpensTheStoreWithItsRecords()
    {
        using (var previous = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            await previous.AppendAsync(Leaves(0, 4), CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        using var next = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        Assert.Equal(4, next.Size);
    }

    public void Dispose() => _store.Dispose();
}
