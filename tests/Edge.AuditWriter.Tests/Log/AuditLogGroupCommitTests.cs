using System.Text;
using System.Text.Json;
using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Log;

public sealed class AuditLogGroupCommitTests : IDisposable
{
    private readonly WriterStoreDirectory _store = new("edge-audit-group-");

    private WriterOptions Options => _store.Options;

    private static List<PendingLeaf> Leaves(string prefix, int first, int count) =>
        Enumerable.Range(first, count).Select(i => AuditLogTilesTests.Pending(WriterFixture.Leaf($"{prefix}{i}", "acme"))).ToList();

    private static async Task WaitForQueuedAsync(AuditLog log, int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (log.QueuedAppends < count)
        {
            await Task.Delay(5, deadline.Token);
        }
    }

    [Fact]
    public async Task AppendAsync_BatchesQueuedBehindACommit_CommitTogetherAndEachCountsItsOwnNewRecords()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        var first = Leaves("a", 0, 5);
        // Two of the second batch repeat the first's ids (a shipper's retry racing its original): stored once.
        var second = Leaves("b", 0, 3).Concat(first.Take(2)).ToList();
        var third = Leaves("c", 0, 4);

        Task<int>[] appends;
        using (await log.HoldAppendsAsync())
        {
            appends = [log.AppendAsync(first, CancellationToken.None), log.AppendAsync(second, CancellationToken.None),
                log.AppendAsync(third, CancellationToken.None)];
            await WaitForQueuedAsync(log, 3);
            Assert.All(appends, append => Assert.False(append.IsCompleted));
        }

        var counts = await Task.WhenAll(appends);
        Assert.Equal(new[] { 5, 3, 4 }, counts);
        Assert.Equal(1, log.GroupCommits);
        Assert.Equal(12, log.Size);
        Assert.True(await log.CheckpointAsync(CancellationToken.None));
        Assert.Equal(12, log.LatestCheckpoint.Size);
    }

    [Fact]
    public async Task AppendAsync_OneBatchOfAGroupCannotBeStored_OnlyItsCallerFails()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        var valid = Leaves("p", 0, 1)[0];
        // A summary that parsed, over bytes that do not: the writer's own parse of the leaf throws inside the transaction.
        List<PendingLeaf> poisoned = [new PendingLeaf(Encoding.UTF8.GetBytes("{\"specversion\":"), valid.Summary)];

        Task<int>[] appends;
        using (await log.HoldAppendsAsync())
        {
            appends = [log.AppendAsync(Leaves("a", 0, 4), CancellationToken.None), log.AppendAsync(poisoned, CancellationToken.None),
                log.AppendAsync(Leaves("c", 0, 2), CancellationToken.None)];
            await WaitForQueuedAsync(log, 3);
        }

        Assert.Equal(4, await appends[0]);
        await Assert.ThrowsAnyAsync<JsonException>(() => appends[1]);
        Assert.Equal(2, await appends[2]);
        Assert.Equal(6, log.Size);
    }

    [Fact]
    public async Task AppendAsync_MoreQueuedThanOneGroupTakes_EveryBatchIsStoredInLaterGroups()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        const int perBatch = 2_000;
        var batches = AuditLog.MaxGroupRecords / perBatch + 1;

        Task<int>[] appends;
        using (await log.HoldAppendsAsync())
        {
            appends = Enumerable.Range(0, batches).Select(b => log.AppendAsync(Leaves($"b{b}-", 0, perBatch), CancellationToken.None)).ToArray();
            await WaitForQueuedAsync(log, batches);
        }

        Assert.All(await Task.WhenAll(appends), count => Assert.Equal(perBatch, count));
        Assert.Equal(2, log.GroupCommits);
        Assert.Equal(batches * perBatch, log.Size);
    }

    [Fact]
    public async Task AppendAsync_CallerGivesUpWhileQueued_ItsBatchIsDroppedNotCommittedByTheNextCaller()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        using var givenUp = new CancellationTokenSource();

        Task<int> abandoned;
        Task<int> kept;
        using (await log.HoldAppendsAsync())
        {
            // A slow store: an edge's request times out while its batch waits, and the edge sends the batch again. Before,
            // every such wait stayed queued with its records (and their sealed copies) and was committed later anyway, so
            // a store stalled for minutes made the writer's memory grow by one batch per edge per timeout.
            abandoned = log.AppendAsync(Leaves("a", 0, 3), givenUp.Token);
            kept = log.AppendAsync(Leaves("b", 0, 2), CancellationToken.None);
            await WaitForQueuedAsync(log, 2);
            await givenUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
            Assert.Equal(1, log.QueuedAppends);
        }

        Assert.Equal(2, await kept);
        Assert.Equal(2, log.Size);
        Assert.Equal(0, log.QueuedAppends);
    }

    [Fact]
    public async Task AppendAsync_GroupFailsBecauseAnotherProcessHoldsTheStoreLock_EveryBatchFailsAtOnceWithoutRetryingEachAlone()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Options.StorePath};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }

        Task<int>[] appends;
        using (await log.HoldAppendsAsync())
        {
            appends = [log.AppendAsync(Leaves("a", 0, 2), CancellationToken.None), log.AppendAsync(Leaves("b", 0, 2), CancellationToken.None),
                log.AppendAsync(Leaves("c", 0, 2), CancellationToken.None)];
            await WaitForQueuedAsync(log, 3);
        }

        // One transaction tried, one busy timeout. Before, the group's failure was followed by each batch alone, one more
        // busy timeout each: three edges waited 10, 15 and 20 s (past their 10 s request timeout) for a lock no batch of
        // theirs caused, and a batch retried after the lock went was stored for an edge that had given up.
        foreach (var append in appends)
        {
            var busy = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => append);
            Assert.Equal(5, busy.SqliteErrorCode); // SQLITE_BUSY
        }

        Assert.Equal(1, log.FailedCommits);
        Assert.Equal(0, log.Size);
    }

    public void Dispose() => _store.Dispose();
}
