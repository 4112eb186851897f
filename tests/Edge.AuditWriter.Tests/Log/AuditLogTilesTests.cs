using Edge.Audit.Merkle;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.AuditWriter.Tests.Log;

public sealed class AuditLogTilesTests : IDisposable
{
    private readonly WriterStoreDirectory _store = new("edge-audit-log-");

    internal WriterOptions Options => _store.Options;

    /// <summary>Small synthetic leaves straight into the records table, as a writer from before tiles stored them.</summary>
    internal static void FillWithoutTiles(string storePath, long count, int batchSize = 50_000)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(storePath)!);
        using var store = AuditStore.Open(storePath);
        var time = DateTimeOffset.UnixEpoch;
        for (var next = 0L; next < count; next += batchSize)
        {
            var leaves = new List<PendingLeaf>();
            for (var i = next; i < Math.Min(count, next + batchSize); i++)
            {
                var id = "r" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                leaves.Add(new PendingLeaf(System.Text.Encoding.UTF8.GetBytes(id), new LeafSummary(id, time, null, null, null, null, null)));
            }

            store.Append(leaves, next);
        }
    }

    [Fact]
    public async Task Open_StoreWrittenBeforeTiles_BuildsTilesOnceAndProofsEqualTheFullTree()
    {
        FillWithoutTiles(Options.StorePath, 1000);
        var tree = new MerkleTree();
        for (var i = 0; i < 1000; i++)
        {
            tree.AppendLeafHash(Rfc9162.LeafHash(System.Text.Encoding.UTF8.GetBytes($"r{i}")));
        }

        using (var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            Assert.Equal(1000, log.Size);
            Assert.Equal(1000, log.Store.TiledSize());
            Assert.True(await log.CheckpointAsync(CancellationToken.None));
            Assert.Equal(tree.Root(), log.LatestCheckpoint.Root);
            foreach (var (index, size) in new (long, long)[] { (0, 1), (255, 256), (256, 257), (999, 1000), (511, 700), (3, 1000) })
            {
                Assert.Equal(tree.InclusionProof(index, size), log.InclusionProof(index, size));
                Assert.Equal(tree.ConsistencyProof(index + 1, size), log.ConsistencyProof(index + 1, size));
            }
        }

        SqliteConnection.ClearAllPools();
        using var reopened = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        Assert.Equal(1000, reopened.Size);
        Assert.Equal(tree.Root(), reopened.LatestCheckpoint.Root);
        Assert.Equal(tree.InclusionProof(123, 1000), reopened.InclusionProof(123, 1000));
    }

    [Fact]
    public async Task AppendAsync_ManyBatches_TilesRootAndProofsEqualTheFullTree()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        var tree = new MerkleTree();
        var random = new Random(3);
        var next = 0;
        while (next < 1500)
        {
            var leaves = Enumerable.Range(next, random.Next(1, 200)).Select(i => Pending(WriterFixture.Leaf($"a{i}", "acme"))).ToList();
            next += leaves.Count;
            await log.AppendAsync(leaves, CancellationToken.None);
            Assert.True(await log.CheckpointAsync(CancellationToken.None));
            foreach (var stored in log.Store.Query(new RecordQuery { Ascending = true, After = tree.Size - 1, Limit = 1000 }))
            {
                tree.AppendLeafHash(Rfc9162.LeafHash(stored.Leaf));
            }

            Assert.Equal(next, tree.Size);
            Assert.Equal(tree.Root(), log.LatestCheckpoint.Root);
            var index = random.NextInt64(next);
            Assert.Equal(tree.InclusionProof(index, next), log.InclusionProof(index, next));
            var from = random.NextInt64(next + 1);
            Assert.Equal(tree.ConsistencyProof(from, next), log.ConsistencyProof(from, next));
        }

        Assert.Equal(next, log.Store.TiledSize());
    }

    [Fact]
    public async Task Open_TileAltered_RefusesToStartInsteadOfSigningAFork()
    {
        using (var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            await log.AppendAsync(Enumerable.Range(0, 700).Select(i => Pending(WriterFixture.Leaf($"a{i}", "acme"))).ToList(), CancellationToken.None);
            Assert.True(await log.CheckpointAsync(CancellationToken.None));
        }

        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={Options.StorePath}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // The level-1 partial tile holds the hashes of the first two 256-leaf subtrees, which the root is made of.
            command.CommandText = "UPDATE partial_tiles SET hashes = zeroblob(64) WHERE level = 1";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        SqliteConnection.ClearAllPools();
        var error = Assert.Throws<InvalidOperationException>(() => new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance));
        Assert.Contains("does not match its latest checkpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyStore_WhileTheWriterAppends_VerifiesWhatItRead()
    {
        using var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        await log.AppendAsync(Enumerable.Range(0, 20000).Select(i => Pending(WriterFixture.Leaf($"l{i}", "acme"))).ToList(), CancellationToken.None);
        Assert.True(await log.CheckpointAsync(CancellationToken.None));
        var key = Edge.Audit.Checkpoints.NoteVerifier.Parse(File.ReadAllText(Options.KeyPath + ".pub").Trim());
        using var appending = new CancellationTokenSource();
        var appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var appender = Task.Run(async () =>
        {
            for (var batch = 0; !appending.IsCancellationRequested; batch++)
            {
                await log.AppendAsync(Enumerable.Range(0, 20).Select(i => Pending(WriterFixture.Leaf($"b{batch}-{i}", "acme"))).ToList(), CancellationToken.None);
                appended.TrySetResult();
            }
        });

        try
        {
            // Before, the last partial tiles were read after the records, in a later snapshot holding more hashes than the
            // records read, and a store in use failed as if it had been tampered with.
            await appended.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var grewDuringARun = false;
            // At least ten runs, and on until one overlapped an append: on a loaded CI host the appender can be starved
            // through ten short runs, which tests nothing rather than something wrong.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            for (var run = 0; run < 10 || (!grewDuringARun && DateTime.UtcNow < deadline); run++)
            {
                using var store = AuditStore.OpenReadOnly(Options.StorePath);
                var before = store.Count();
                var report = Edge.Audit.Verification.LogVerifier.VerifyStore(store, [key]);
                Assert.True(report.Valid, report.Problem);
                grewDuringARun |= store.Count() > report.RecordsChecked && report.RecordsChecked >= before;
            }

            Assert.True(grewDuringARun, "the writer appended while a verify ran");
        }
        finally
        {
            await appending.CancelAsync();
            await appender;
        }
    }

    [Fact]
    public async Task VerifyStore_Level0TileAltered_FailsAtThatTileWhileTheUntouchedStoreVerifies()
    {
        using (var log = new AuditLog(Options, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            await log.AppendAsync(Enumerable.Range(0, 700).Select(i => Pending(WriterFixture.Leaf($"a{i}", "acme"))).ToList(), CancellationToken.None);
            Assert.True(await log.CheckpointAsync(CancellationToken.None));
        }

        var key = Edge.Audit.Checkpoints.NoteVerifier.Parse(File.ReadAllText(Options.KeyPath + ".pub").Trim());
        using (var store = AuditStore.OpenReadOnly(Options.StorePath))
        {
            var report = Edge.Audit.Verification.LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
            Assert.Equal(700, report.RecordsChecked);
        }

        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={Options.StorePath}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Level-0 tile 1 is not read for the root (level 1 holds its hash), so only a recomputation finds this.
            command.CommandText = "DROP TRIGGER tiles_no_update; UPDATE tiles SET hashes = zeroblob(8192) WHERE level = 0 AND idx = 1";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        SqliteConnection.ClearAllPools();
        using (var store = AuditStore.OpenReadOnly(Options.StorePath))
        {
            var report = Edge.Audit.Verification.LogVerifier.VerifyStore(store, [key]);
            Assert.False(report.Valid);
            Assert.Equal(256, report.FirstBadIndex);
            Assert.Contains("tile/0/001 does not match the records", report.Problem, StringComparison.Ordinal);
        }
    }

    internal static PendingLeaf Pending(byte[] bytes) => new(bytes, LeafSummary.TryParse(bytes, out _)!);

    public void Dispose() => _store.Dispose();
}
