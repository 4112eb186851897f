using Edge.Audit.Tiles;
using Npgsql;
using NpgsqlTypes;

namespace Edge.Audit.Storage;

/// <summary>
/// The tree as C2SP tlog-tiles, as in <see cref="AuditStore"/> (see docs/audit.md, "Tiles"): full tiles are insert-only,
/// refused UPDATE, DELETE and TRUNCATE by triggers and not granted to the runtime role beyond SELECT/INSERT; each level's
/// one partial tile is replaced as it grows and deleted when it fills. Tiles change in the fenced append transaction of
/// the records they cover, or, for a store written before tiles, in the one-time build at start.
/// A partial tile is only ever replaced by a wider one (or one of a later index): a standby building the tiles of an old
/// store at start may race the sequencer, and must not move the right edge back.
/// </summary>
public sealed partial class PostgresAuditStore
{
    private const string TileSchema = """
        CREATE TABLE IF NOT EXISTS audit_tiles (
            level integer NOT NULL,
            idx bigint NOT NULL,
            hashes bytea NOT NULL CHECK (length(hashes) = 8192),
            PRIMARY KEY (level, idx)
        );
        CREATE TABLE IF NOT EXISTS audit_partial_tiles (
            level integer PRIMARY KEY,
            idx bigint NOT NULL,
            hashes bytea NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8160 AND length(hashes) % 32 = 0)
        );
        CREATE OR REPLACE TRIGGER audit_tiles_append_only BEFORE UPDATE OR DELETE ON audit_tiles
            FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_tiles_no_truncate BEFORE TRUNCATE ON audit_tiles
            FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
        """;

    public Tile? ReadTile(int level, long index)
    {
        using var command = _dataSource.CreateCommand("""
            SELECT hashes FROM audit_tiles WHERE level = @level AND idx = @idx
            UNION ALL SELECT hashes FROM audit_partial_tiles WHERE level = @level AND idx = @idx
            LIMIT 1
            """);
        command.Parameters.AddWithValue("level", level);
        command.Parameters.AddWithValue("idx", index);
        return command.ExecuteScalar() is byte[] hashes ? new Tile(level, index, hashes) : null;
    }

    public bool HasTiles()
    {
        using var command = _dataSource.CreateCommand(
            "SELECT to_regclass('audit_tiles') IS NOT NULL AND to_regclass('audit_partial_tiles') IS NOT NULL");
        return command.ExecuteScalar() is true;
    }

    /// <summary>Full level-0 tiles are contiguous from 0, so MAX(idx) + 1 counts them with one index lookup.</summary>
    public long TiledSize()
    {
        using var command = _dataSource.CreateCommand("""
            WITH full_tiles AS (SELECT COALESCE(MAX(idx) + 1, 0) AS n FROM audit_tiles WHERE level = 0)
            SELECT n * 256 + COALESCE((SELECT length(hashes) / 32 FROM audit_partial_tiles p WHERE p.level = 0 AND p.idx = n), 0)
            FROM full_tiles
            """);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public IReadOnlyList<byte[]> ReadLeafBytes(long start, int count)
    {
        using var command = _dataSource.CreateCommand("SELECT leaf FROM audit_records WHERE idx >= @start AND idx < @end ORDER BY idx");
        command.Parameters.AddWithValue("start", start);
        command.Parameters.AddWithValue("end", start + count);
        using var reader = command.ExecuteReader();
        var leaves = new List<byte[]>(count);
        while (reader.Read())
        {
            leaves.Add((byte[])reader[0]);
        }

        return leaves;
    }

    /// <summary>
    /// The one-time build: a full tile another writer built meanwhile is left as it is (both were computed from the same
    /// append-only leaves; <c>edge audit verify</c> compares them with the records).
    /// </summary>
    public void WriteTiles(TileChanges changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        using var connection = _dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        WriteTiles(connection, transaction, changes, building: true);
        transaction.Commit();
    }

    private static void WriteTiles(NpgsqlConnection connection, NpgsqlTransaction transaction, TileChanges changes, bool building)
    {
        if (changes.FullTiles.Count > 0)
        {
            using var full = new NpgsqlCommand(
                "INSERT INTO audit_tiles (level, idx, hashes) VALUES (@level, @idx, @hashes)" + (building ? " ON CONFLICT DO NOTHING" : ""),
                connection, transaction);
            var level = full.Parameters.Add("level", NpgsqlDbType.Integer);
            var index = full.Parameters.Add("idx", NpgsqlDbType.Bigint);
            var hashes = full.Parameters.Add("hashes", NpgsqlDbType.Bytea);
            foreach (var tile in changes.FullTiles)
            {
                (level.Value, index.Value, hashes.Value) = (tile.Level, tile.Index, tile.Hashes);
                full.ExecuteNonQuery();
            }
        }

        foreach (var tile in changes.Partials)
        {
            using var partial = new NpgsqlCommand { Connection = connection, Transaction = transaction };
            partial.CommandText = tile.Width == 0
                // The level's partial just filled (it is a full tile now): the next one is empty.
                ? "DELETE FROM audit_partial_tiles WHERE level = @level AND idx < @idx"
                : """
                  INSERT INTO audit_partial_tiles (level, idx, hashes)
                  SELECT @level, @idx, @hashes
                  WHERE NOT EXISTS (SELECT 1 FROM audit_tiles WHERE level = @level AND idx >= @idx)
                  ON CONFLICT (level) DO UPDATE SET idx = EXCLUDED.idx, hashes = EXCLUDED.hashes
                  WHERE (audit_partial_tiles.idx, length(audit_partial_tiles.hashes)) < (EXCLUDED.idx, length(EXCLUDED.hashes))
                  """;
            partial.Parameters.AddWithValue("level", NpgsqlDbType.Integer, tile.Level);
            partial.Parameters.AddWithValue("idx", NpgsqlDbType.Bigint, tile.Index);
            partial.Parameters.AddWithValue("hashes", NpgsqlDbType.Bytea, tile.Hashes);
            partial.ExecuteNonQuery();
        }
    }

    private sealed partial class AppendBatch
    {
        /// <summary>Writes the tiles now, inside the fenced transaction: they commit with the records or not at all.</summary>
        public void WriteTiles(TileChanges changes)
        {
            ArgumentNullException.ThrowIfNull(changes);
            PostgresAuditStore.WriteTiles(_connection, _transaction, changes, building: false);
        }
    }
}
