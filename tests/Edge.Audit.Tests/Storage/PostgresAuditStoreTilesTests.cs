using Edge.Audit.Storage;
using Edge.Audit.Tests.Tiles;
using Edge.Audit.Tiles;
using Edge.Testing;
using Npgsql;

namespace Edge.Audit.Tests.Storage;

/// <summary>The PostgreSQL twin of <see cref="AuditStoreTilesTests"/>, plus what only a shared store needs (grants, racing builds).</summary>
public sealed class PostgresAuditStoreTilesTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const string WriterRole = "edge_audit_writer";

    private async Task<string> NewStoreAsync() => postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync());

    private static PostgresAuditStore OpenAsSequencer(string connectionString)
    {
        var store = PostgresAuditStore.Open(connectionString);
        Assert.True(store.Lease.TryAcquire());
        return store;
    }

    /// <summary>Appends leaves r{next}.. and their tiles in one batch, as the writer does.</summary>
    private static void AppendWithTiles(IAuditStore store, TileEdge edge, TileTestLog log, int count)
    {
        var next = store.Count();
        using var batch = store.BeginAppend(next);
        for (var i = 0; i < count; i++)
        {
            var leaf = AuditStoreTests.Leaf($"r{next + i}");
            batch.Add(leaf);
            edge.AppendLeafHash(leaf.Hash);
            log.LeafHashes.Add(leaf.Hash);
        }

        batch.WriteTiles(edge.TakeChanges());
        batch.Commit();
    }

    [Fact]
    public async Task WriteTiles_AppendBatches_StoreFullTilesOnceAndOnePartialPerLevel()
    {
        var connectionString = await NewStoreAsync();
        using var store = OpenAsSequencer(connectionString);
        var edge = new TileEdge();
        var log = new TileTestLog();
        Assert.True(store.HasTiles());
        foreach (var count in new[] { 100, 200, 300, 65_000, 1 })
        {
            AppendWithTiles(store, edge, log, count);
            Assert.Equal(store.Count(), store.TiledSize());
        }

        Assert.Equal(65_601, store.Count());
        Assert.Equal(256, store.ReadTile(0, 255)!.Width);
        Assert.Equal(65, store.ReadTile(0, 256)!.Width);
        Assert.Equal(log.Mth(0, 65_536), store.ReadTile(2, 0)!.Hashes);
        Assert.Equal(log.Mth(65_536 - 256, 65_536), store.ReadTile(1, 0)!.Hash(255).ToArray());
        Assert.Null(store.ReadTile(0, 257));
        Assert.Null(store.ReadTile(1, 1));
        Assert.Equal(2L, await ScalarAsync(connectionString, "SELECT COUNT(*) FROM audit_partial_tiles"));
        Assert.Equal(257L, await ScalarAsync(connectionString, "SELECT COUNT(*) FROM audit_tiles"));
        Assert.Equal(log.Mth(0, 65_601), new TileHashReader(store.ReadTile).Root(65_601));
    }

    [Fact]
    public async Task WriteTiles_FencedBatchRolledBack_StoresNoTiles()
    {
        var connectionString = await NewStoreAsync();
        using var store = OpenAsSequencer(connectionString);
        var edge = new TileEdge();
        using (var batch = store.BeginAppend(0))
        {
            for (var i = 0; i < 300; i++)
            {
                var leaf = AuditStoreTests.Leaf($"r{i}");
                batch.Add(leaf);
                edge.AppendLeafHash(leaf.Hash);
            }

            batch.WriteTiles(edge.TakeChanges());
        }

        Assert.Equal(0, store.TiledSize());
        Assert.Null(store.ReadTile(0, 0));
    }

    [Fact]
    public async Task WriteTiles_StaleBuildAfterTheSequencerMovedOn_DoesNotMoveThePartialBack()
    {
        var connectionString = await NewStoreAsync();
        using var store = OpenAsSequencer(connectionString);
        var stale = new TileEdge();
        var current = new TileEdge();
        var log = new TileTestLog();
        AppendWithTiles(store, current, log, 100);
        foreach (var hash in log.LeafHashes.Take(40))
        {
            stale.AppendLeafHash(hash);
        }

        // A standby that read the leaf hashes earlier finishes its build after the sequencer appended more.
        store.WriteTiles(stale.TakeChanges());
        AppendWithTiles(store, current, log, 200);
        store.WriteTiles(new TileChanges([], [new Tile(0, 1, log.LeafHashes.Skip(256).Take(10).SelectMany(h => h).ToArray())]));

        Assert.Equal(300, store.TiledSize());
        Assert.Equal(44, store.ReadTile(0, 1)!.Width);
        Assert.Equal(log.Mth(0, 300), new TileHashReader(store.ReadTile).Root(300));
    }

    [Fact]
    public async Task FullTiles_WriterRoleUpdateDeleteOrTruncate_RefusedByGrantsWhilePartialsStillMove()
    {
        var owner = await NewStoreAsync();
        var edge = new TileEdge();
        var log = new TileTestLog();
        using (var store = OpenAsSequencer(owner))
        {
            AppendWithTiles(store, edge, log, 300);
        }

        var database = new NpgsqlConnectionStringBuilder(owner).Database!;
        await postgres.Server.ExecuteAsync(database, $"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WriterRole}') THEN CREATE ROLE {WriterRole} LOGIN; END IF; END $$;");
        PostgresAuditStore.GrantRuntimeRole(owner, WriterRole);
        var asWriterRole = postgres.Server.ConnectionString(database, WriterRole);
        await using (var writer = new NpgsqlConnection(asWriterRole))
        {
            await writer.OpenAsync();
            foreach (var sql in new[]
            {
                "UPDATE audit_tiles SET hashes = hashes",
                "DELETE FROM audit_tiles",
                "TRUNCATE audit_tiles",
                "ALTER TABLE audit_tiles DISABLE TRIGGER audit_tiles_append_only",
            })
            {
                await using var command = new NpgsqlCommand(sql, writer);
                var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
                Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {refused.SqlState} {refused.MessageText}");
            }
        }

        // The runtime role appends: the level-0 partial is replaced, tile 1 fills and is inserted, the next partial starts.
        using var asWriter = OpenAsSequencer(asWriterRole);
        AppendWithTiles(asWriter, edge, log, 220);
        Assert.Equal(520, asWriter.TiledSize());
        Assert.Equal(log.Mth(0, 520), new TileHashReader(asWriter.ReadTile).Root(520));
        Assert.Equal(256, asWriter.ReadTile(0, 1)!.Width);
    }

    [Theory]
    [InlineData("UPDATE audit_tiles SET hashes = hashes")]
    [InlineData("DELETE FROM audit_tiles")]
    [InlineData("TRUNCATE audit_tiles")]
    public async Task FullTiles_OwnerUpdateDeleteOrTruncate_RefusedByTriggers(string sql)
    {
        var owner = await NewStoreAsync();
        using (var store = OpenAsSequencer(owner))
        {
            AppendWithTiles(store, new TileEdge(), new TileTestLog(), 300);
        }

        await using var connection = new NpgsqlConnection(owner);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Contains("append-only", refused.MessageText, StringComparison.Ordinal);
        Assert.Equal(1L, await ScalarAsync(owner, "SELECT COUNT(*) FROM audit_tiles"));
    }

    [Fact]
    public async Task ReadLeafBytes_Range_ReturnsLeavesInIndexOrder()
    {
        using var store = OpenAsSequencer(await NewStoreAsync());
        var leaves = Enumerable.Range(0, 10).Select(i => AuditStoreTests.Leaf($"r{i}")).ToList();
        using (var batch = store.BeginAppend(0))
        {
            leaves.ForEach(leaf => batch.Add(leaf));
            batch.Commit();
        }

        Assert.Equal(leaves.Skip(3).Take(4).Select(l => l.Bytes), store.ReadLeafBytes(3, 4));
        Assert.Equal(leaves.Skip(8).Select(l => l.Bytes), store.ReadLeafBytes(8, 256));
    }

    private static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
