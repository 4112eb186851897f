using Edge.Audit.Storage;
using Edge.Audit.Tests.Tiles;
using Edge.Audit.Tiles;
using Microsoft.Data.Sqlite;

namespace Edge.Audit.Tests.Storage;

public sealed class AuditStoreTilesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-audit-tiles-").FullName;

    [Fact]
    public void WriteTiles_AppendBatches_StoreFullTilesOnceAndOnePartialPerLevel()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        var edge = new TileEdge();
        var log = new TileTestLog();
        var next = 0L;
        foreach (var count in new[] { 100, 200, 300, 65_000, 1 })
        {
            var leaves = Enumerable.Range(0, count).Select(i => AuditStoreTests.Leaf($"r{next + i}")).ToList();
            using var batch = store.BeginAppend(next);
            foreach (var leaf in leaves)
            {
                batch.Add(leaf);
                edge.AppendLeafHash(leaf.Hash);
                log.LeafHashes.Add(leaf.Hash);
            }

            batch.WriteTiles(edge.TakeChanges());
            batch.Commit();
            next += count;
            Assert.Equal(next, store.TiledSize());
        }

        Assert.Equal(65_601, store.Count());
        Assert.Equal(256, store.ReadTile(0, 255)!.Width);
        Assert.Equal(65, store.ReadTile(0, 256)!.Width);
        Assert.Equal(log.Mth(0, 65_536), store.ReadTile(2, 0)!.Hashes);
        Assert.Equal(log.Mth(65_536 - 256, 65_536), store.ReadTile(1, 0)!.Hash(255).ToArray());
        Assert.Null(store.ReadTile(0, 257));
        Assert.Null(store.ReadTile(1, 1));
        Assert.Equal(2, Scalar(store, "SELECT COUNT(*) FROM partial_tiles"));
        Assert.Equal(257, Scalar(store, "SELECT COUNT(*) FROM tiles"));
        Assert.Equal(log.Mth(0, 65_601), new TileHashReader(store.ReadTile).Root(65_601));
    }

    [Theory]
    [InlineData("UPDATE tiles SET hashes = zeroblob(8192)")]
    [InlineData("DELETE FROM tiles")]
    public void Tiles_UpdateOrDeleteOfAFullTile_IsRefusedByTheDatabase(string sql)
    {
        var path = Path.Combine(_directory, "audit.db");
        using var store = AuditStore.Open(path);
        var edge = new TileEdge();
        for (var i = 0; i < 300; i++)
        {
            edge.AppendLeafHash(TileTestLog.Leaf([(byte)i]));
        }

        store.WriteTiles(edge.TakeChanges());

        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var error = Assert.Throws<SqliteException>(() => command.ExecuteNonQuery());
        Assert.Contains("full tiles are immutable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLeafBytes_Range_ReturnsLeavesInIndexOrder()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        var leaves = Enumerable.Range(0, 10).Select(i => AuditStoreTests.Leaf($"r{i}")).ToList();
        store.Append(leaves, 0);

        Assert.Equal(leaves.Skip(3).Take(4).Select(l => l.Bytes), store.ReadLeafBytes(3, 4));
        Assert.Equal(leaves.Skip(8).Select(l => l.Bytes), store.ReadLeafBytes(8, 256));
    }

    private static long Scalar(AuditStore store, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={store.Path};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
