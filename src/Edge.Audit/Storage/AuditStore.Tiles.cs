using Edge.Audit.Tiles;
using Microsoft.Data.Sqlite;

namespace Edge.Audit.Storage;

/// <summary>
/// The tree as C2SP tlog-tiles (see docs/audit.md, "Tiles"). Full tiles (256 hashes) are insert-only, refused UPDATE
/// and DELETE by triggers like the records; each level's one partial tile is replaced as it grows and deleted when it
/// fills. Tiles change only in the append transaction of the records they cover (<see cref="AppendBatch.WriteTiles"/>),
/// or, for a store written before tiles existed, in the one-time build at start (<see cref="WriteTiles"/>).
/// Everything tile-related is in this file, so another store ports it as one unit.
/// </summary>
public sealed partial class AuditStore
{
    private const string TileSchema = """
        CREATE TABLE IF NOT EXISTS tiles (
            level INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            hashes BLOB NOT NULL CHECK (length(hashes) = 8192),
            PRIMARY KEY (level, idx)
        );
        CREATE TABLE IF NOT EXISTS partial_tiles (
            level INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            hashes BLOB NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8160 AND length(hashes) % 32 = 0),
            PRIMARY KEY (level, idx)
        );
        CREATE TRIGGER IF NOT EXISTS tiles_no_update BEFORE UPDATE ON tiles
            BEGIN SELECT RAISE(ABORT, 'full tiles are immutable'); END;
        CREATE TRIGGER IF NOT EXISTS tiles_no_delete BEFORE DELETE ON tiles
            BEGIN SELECT RAISE(ABORT, 'full tiles are immutable'); END;
        """;

    /// <summary>
    /// The stored tile (level, index): the full tile, or else the level's partial tile when it has this index; null when
    /// neither exists. One statement, so a reader racing an append sees the partial or the full tile that replaced it.
    /// </summary>
    public Tile? ReadTile(int level, long index)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT hashes FROM tiles WHERE level = $level AND idx = $idx
            UNION ALL SELECT hashes FROM partial_tiles WHERE level = $level AND idx = $idx
            LIMIT 1
            """;
        command.Parameters.AddWithValue("$level", level);
        command.Parameters.AddWithValue("$idx", index);
        return command.ExecuteScalar() is byte[] hashes ? new Tile(level, index, hashes) : null;
    }

    /// <summary>False for a store no writer with tiles has opened yet (and a read-only one cannot create the tables).</summary>
    public bool HasTiles()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('tiles', 'partial_tiles')";
        return (long)command.ExecuteScalar()! == 2;
    }

    /// <summary>
    /// How many leaves the stored level-0 tiles cover (full tiles × 256 + the partial tile's width). Full tiles are
    /// contiguous from 0, so MAX(idx) + 1 counts them with one primary-key lookup, whatever the log's size.
    /// </summary>
    public long TiledSize()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT COALESCE((SELECT MAX(idx) + 1 FROM tiles WHERE level = 0), 0) * 256
                 + COALESCE((SELECT length(hashes) / 32 FROM partial_tiles WHERE level = 0
                             AND idx = COALESCE((SELECT MAX(idx) + 1 FROM tiles WHERE level = 0), 0)), 0)
            """;
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// The leaves [start, start + count) in index order: their bytes, empty once pruned (an entry bundle is served only
    /// when none is).
    /// </summary>
    public IReadOnlyList<byte[]> ReadLeafBytes(long start, int count)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT leaf FROM records WHERE idx >= $start AND idx < $end ORDER BY idx";
        command.Parameters.AddWithValue("$start", start);
        command.Parameters.AddWithValue("$end", start + count);
        using var reader = command.ExecuteReader();
        var leaves = new List<byte[]>(count);
        while (reader.Read())
        {
            leaves.Add(Blob(reader, 0));
        }

        return leaves;
    }

    /// <summary>Writes tiles in a transaction of their own: only for building the tiles of records already stored.</summary>
    public void WriteTiles(TileChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        using var transaction = _writer.BeginTransaction();
        WriteTiles(transaction, changes);
        transaction.Commit();
    }

    private void WriteTiles(SqliteTransaction transaction, TileChanges changes)
    {
        using var full = _writer.CreateCommand();
        full.Transaction = transaction;
        full.CommandText = "INSERT INTO tiles (level, idx, hashes) VALUES ($level, $idx, $hashes)";
        var (level, index, hashes) = (full.Parameters.Add("$level", SqliteType.Integer), full.Parameters.Add("$idx", SqliteType.Integer),
            full.Parameters.Add("$hashes", SqliteType.Blob));
        foreach (var tile in changes.FullTiles)
        {
            (level.Value, index.Value, hashes.Value) = (tile.Level, tile.Index, tile.Hashes);
            full.ExecuteNonQuery();
        }

        using var partial = _writer.CreateCommand();
        partial.Transaction = transaction;
        var (partialLevel, partialIndex, partialHashes) = (partial.Parameters.Add("$level", SqliteType.Integer),
            partial.Parameters.Add("$idx", SqliteType.Integer), partial.Parameters.Add("$hashes", SqliteType.Blob));
        foreach (var tile in changes.Partials)
        {
            // One partial per level: the one it replaces may have a lower index (it just filled).
            partial.CommandText = tile.Width == 0
                ? "DELETE FROM partial_tiles WHERE level = $level"
                : "DELETE FROM partial_tiles WHERE level = $level; INSERT INTO partial_tiles (level, idx, hashes) VALUES ($level, $idx, $hashes)";
            (partialLevel.Value, partialIndex.Value, partialHashes.Value) = (tile.Level, tile.Index, tile.Hashes);
            partial.ExecuteNonQuery();
        }
    }

    public sealed partial class AppendBatch
    {
        /// <summary>Stores the tiles this batch's records change, in the batch's transaction: records and tiles commit together.</summary>
        public void WriteTiles(TileChanges changes)
        {
            ArgumentNullException.ThrowIfNull(changes);
            _store.WriteTiles(_transaction, changes);
        }
    }
}
