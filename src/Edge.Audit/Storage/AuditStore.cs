using Edge.Audit.Records;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Edge.Audit.Storage;

/// <summary>
/// The SQLite store: records are append-only (DELETE refused by triggers; the only UPDATE allowed prunes a record
/// down to its leaf hash), the record id is UNIQUE so replays are ignored, and signed checkpoints are stored beside
/// them. Subject data keys (wrapped) and the keyed blind index live in <c>subjects</c>, linked to records by
/// <c>record_subjects</c>; both are deletable, which is what erasure does. A new record's link goes to the small
/// <c>recent_record_subjects</c> first and moves to <c>record_subjects</c> in bulk (see <see cref="RecentLinksMergeAt"/>);
/// every reader looks in both. WAL with synchronous=FULL, so a commit
/// that returned is on disk; secure_delete, so deleted bytes are overwritten. Writes are serialised by the caller;
/// reads may run concurrently. Every index is one more B-tree insert per record, so the columns most records leave
/// empty (reason: only denials have one; principal: only v1 records keep it in plaintext) are indexed partially; a
/// filter <c>column = value</c> implies <c>IS NOT NULL</c>, so SQLite still uses them.
/// </summary>
public sealed partial class AuditStore : IAuditStore
{
    private const string Schema = $"""
        PRAGMA journal_mode=WAL;
        CREATE TABLE IF NOT EXISTS records (
            idx INTEGER PRIMARY KEY,
            record_id TEXT NOT NULL UNIQUE,
            time_ms INTEGER NOT NULL,
            tenant TEXT,
            principal TEXT,
            route TEXT,
            decision TEXT,
            reason TEXT,
            leaf BLOB NOT NULL,
            leaf_hash BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_records_tenant ON records (tenant, idx);
        CREATE INDEX IF NOT EXISTS ix_records_route ON records (route, idx);
        DROP INDEX IF EXISTS ix_records_tenant_decision;
        DROP INDEX IF EXISTS ix_records_decision;
        CREATE INDEX IF NOT EXISTS ix_records_tenant_decision_set ON records (tenant, decision, idx) WHERE decision <> '{NotInDecisionIndexes}';
        CREATE INDEX IF NOT EXISTS ix_records_decision_set ON records (decision, idx) WHERE decision <> '{NotInDecisionIndexes}';
        DROP INDEX IF EXISTS ix_records_tenant_reason;
        DROP INDEX IF EXISTS ix_records_principal;
        DROP INDEX IF EXISTS ix_records_reason;
        CREATE INDEX IF NOT EXISTS ix_records_tenant_reason_set ON records (tenant, reason, idx) WHERE reason IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_records_principal_set ON records (principal, idx) WHERE principal IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_records_reason_set ON records (reason, idx) WHERE reason IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_records_time ON records (time_ms);
        CREATE TABLE IF NOT EXISTS subjects (
            id INTEGER PRIMARY KEY,
            blind BLOB NOT NULL,
            tenant TEXT NOT NULL,
            wrapped_key BLOB NOT NULL,
            created_ms INTEGER NOT NULL,
            UNIQUE (blind, tenant)
        );
        CREATE TABLE IF NOT EXISTS record_subjects (
            idx INTEGER PRIMARY KEY,
            subject INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_record_subjects_subject ON record_subjects (subject, idx);
        CREATE TABLE IF NOT EXISTS recent_record_subjects (
            idx INTEGER PRIMARY KEY,
            subject INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_recent_record_subjects_subject ON recent_record_subjects (subject, idx);
        CREATE TABLE IF NOT EXISTS erasures (
            blind BLOB NOT NULL,
            tenant TEXT,
            erased_ms INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_erasures_blind ON erasures (blind, erased_ms);
        CREATE TRIGGER IF NOT EXISTS erasures_no_update BEFORE UPDATE ON erasures
            BEGIN SELECT RAISE(ABORT, 'erasure tombstones are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS erasures_no_delete BEFORE DELETE ON erasures
            BEGIN SELECT RAISE(ABORT, 'erasure tombstones are append-only'); END;
        CREATE TABLE IF NOT EXISTS checkpoints (
            size INTEGER PRIMARY KEY,
            root BLOB NOT NULL,
            note TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        );
        DROP TRIGGER IF EXISTS records_no_update;
        CREATE TRIGGER IF NOT EXISTS records_prune_only BEFORE UPDATE ON records
            WHEN NOT (length(NEW.leaf) = 0 AND NEW.principal IS NULL AND NEW.idx = OLD.idx AND NEW.record_id = OLD.record_id
                AND NEW.time_ms = OLD.time_ms AND NEW.tenant IS OLD.tenant AND NEW.route IS OLD.route
                AND NEW.decision IS OLD.decision AND NEW.reason IS OLD.reason AND NEW.leaf_hash = OLD.leaf_hash)
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only; only pruning to the leaf hash is allowed'); END;
        CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
        """;

    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SqliteCommand _exists;
    private readonly SqliteCommand _storedOf;
    private readonly SqliteCommand _insertSubject;

    // The two per-record statements, bound through SQLitePCL directly and prepared once (on the first append, so a
    // read-only store never prepares them): Microsoft.Data.Sqlite's per-call parameter binding, statement enumeration
    // and reader were about a tenth of the writer's CPU per record in perf.
    private sqlite3_stmt? _rawInsert;
    private sqlite3_stmt? _rawLink;
    private sqlite3_stmt? _rawSelectSubject;
    private sqlite3_stmt? _rawErasedAt;

    /// <summary>
    /// Links kept in <c>recent_record_subjects</c> before they move to <c>record_subjects</c> in one sorted insert. The
    /// (subject, idx) index takes each record's link at a random position: inserted one batch at a time into the
    /// index of the whole log, 2,000 links dirtied up to 2,000 of its pages, each written to the WAL and again by the
    /// checkpoint (half of the writer's bytes written per record). The recent index is small
    /// enough that a batch dirties few pages, and the sorted move writes each page of the large index at most once
    /// per this many records.
    /// </summary>
    internal int RecentLinksMergeAt { get; set; } = 50_000;

    /// <summary>WAL pages after which a commit folds the WAL into the database (SQLite's default is 1,000).</summary>
    internal const int WalAutoCheckpointPages = 10_000;

    private const string MergeRecentLinksSql = """
        INSERT INTO record_subjects (idx, subject) SELECT idx, subject FROM recent_record_subjects ORDER BY subject, idx;
        DELETE FROM recent_record_subjects;
        """;

    // Links in recent_record_subjects as this writer counts them (an erasure or prune may have removed some since:
    // then the move only comes earlier).
    private long _recentLinks;

    // A store opened read-only that no writer with recent_record_subjects has opened yet: readers see it as empty.
    private readonly bool _noRecentLinksTable;

    /// <summary>How long a statement waits for a lock another connection or process holds before it fails.</summary>
    internal const int BusyTimeoutSeconds = 5;

    private AuditStore(string path, bool readOnly)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Microsoft.Data.Sqlite retries a statement that stays SQLITE_BUSY until this many seconds passed (its own
            // default is 30), on top of busy_timeout below: a lock another process held made an ingest batch wait more
            // than 30 s, past the edge's request timeout, with /readyz ready and nothing logged. The two now agree.
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        if (!readOnly)
        {
            Execute(_writer, Schema);
            Execute(_writer, TileSchema);
        }

        // secure_delete: deleted rows and freed pages are zeroed, so an erased key or pruned leaf cannot be read back
        // from free space in the file.
        // wal_autocheckpoint: SQLite's default copies the WAL into the database every 1,000 pages (about 4 MB, two or
        // three batches), so the index pages every batch dirties (the ends of the tenant, route, decision and time
        // indexes) were written to the database again after nearly every batch. At 10,000 pages a page is copied once
        // however many batches changed it since the last copy (measured in load/results/audit.md: 4-14% less writer CPU
        // and 11-26% fewer bytes written per record). The WAL then grows to about 40 MB before it is folded in; erasure still truncates it at once.
        Execute(_writer, $"PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint={WalAutoCheckpointPages}; PRAGMA busy_timeout={BusyTimeoutSeconds * 1000}; PRAGMA cache_size=-65536; PRAGMA secure_delete=ON;");
        _exists = Prepared("SELECT 1 FROM records WHERE record_id = $id", "$id");
        _storedOf = Prepared("SELECT record_id FROM records WHERE record_id IN (SELECT value FROM json_each($ids))", "$ids");
        _insertSubject = Prepared(
            "INSERT INTO subjects (blind, tenant, wrapped_key, created_ms) VALUES ($blind, $tenant, $key, $now) RETURNING id",
            "$blind", "$tenant", "$key", "$now");
        using (var command = _writer.CreateCommand())
        {
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'recent_record_subjects'";
            _noRecentLinksTable = (long)command.ExecuteScalar()! == 0;
            if (!_noRecentLinksTable)
            {
                command.CommandText = "SELECT COUNT(*) FROM recent_record_subjects";
                _recentLinks = (long)command.ExecuteScalar()!;
            }

            if (!readOnly)
            {
                command.CommandText = "SELECT DISTINCT blind FROM erasures";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    _erasedBlinds.Add((byte[])reader[0]);
                }
            }
        }
    }

    /// <summary>
    /// The blind indexes that have a tombstone. Only this store writes tombstones (one writer per file, under its lock), so
    /// a subject missing here was never erased and costs no lookup: that is nearly every new subject.
    /// </summary>
    private readonly HashSet<byte[]> _erasedBlinds = new(BlindComparer.Instance);

    private sealed class BlindComparer : IEqualityComparer<byte[]>
    {
        public static readonly BlindComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }

    private const string InsertRecordSql = """
        INSERT INTO records (idx, record_id, time_ms, tenant, principal, route, decision, reason, leaf, leaf_hash)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
        ON CONFLICT (record_id) DO NOTHING
        """;

    private const string LinkSubjectSql = "INSERT INTO recent_record_subjects (idx, subject) VALUES (?1, ?2)";

    private sqlite3_stmt RawInsert => _rawInsert ??= PrepareRaw(InsertRecordSql);

    private sqlite3_stmt RawLink => _rawLink ??= PrepareRaw(LinkSubjectSql);

    private sqlite3_stmt RawSelectSubject => _rawSelectSubject ??= PrepareRaw("SELECT id, wrapped_key FROM subjects WHERE blind = ?1 AND tenant = ?2");

    private sqlite3_stmt RawErasedAt => _rawErasedAt ??= PrepareRaw(ErasedAtSql);

    /// <summary>The newest tombstone of a subject: erased in its tenant, or in every tenant (tenant NULL).</summary>
    private const string ErasedAtSql = "SELECT MAX(erased_ms) FROM erasures WHERE blind = ?1 AND (tenant IS NULL OR tenant = ?2)";

    private sqlite3_stmt PrepareRaw(string sql)
    {
        var db = _writer.Handle!;
        var rc = raw.sqlite3_prepare_v3(db, sql, raw.SQLITE_PREPARE_PERSISTENT, out var statement);
        if (rc != raw.SQLITE_OK)
        {
            statement?.Dispose();
            SqliteException.ThrowExceptionForRC(rc, db);
        }

        return statement ?? throw new InvalidOperationException("SQLite prepared no statement for: " + sql);
    }

    private static void Check(int rc, sqlite3 db)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    /// <summary>Binds a string as UTF-8 from a stack buffer (SQLite copies it), or NULL.</summary>
    private static void BindText(sqlite3_stmt statement, int index, string? value, sqlite3 db)
    {
        if (value is null)
        {
            Check(raw.sqlite3_bind_null(statement, index), db);
            return;
        }

        var max = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
        Span<byte> utf8 = max <= 512 ? stackalloc byte[max] : new byte[max];
        var length = System.Text.Encoding.UTF8.GetBytes(value, utf8);
        Check(raw.sqlite3_bind_text(statement, index, utf8[..length]), db);
    }

    private IEnumerable<SqliteCommand> BatchCommands => [_exists, _storedOf, _insertSubject];

    private SqliteCommand Prepared(string sql, params string[] parameters)
    {
        var command = _writer.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    public string Path { get; }

    public string Location => Path;

    public static AuditStore Open(string path)
    {
        CreateWithOwnerAndGroupAccess(path);
        return new(path, readOnly: false);
    }

    /// <summary>
    /// A new store is created mode 0640, as the embedded mode's local file: it holds every record's route, path and
    /// tenant in plaintext. Left to SQLite it took the umask (0644: readable by every local user); SQLite gives its WAL
    /// and shared-memory files the database file's mode. An existing file keeps its mode.
    /// </summary>
    private static void CreateWithOwnerAndGroupAccess(string path)
    {
        if (OperatingSystem.IsWindows() || path is "" or ":memory:" || File.Exists(path))
        {
            return;
        }

        try
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Created by another process meanwhile (its mode stands), or not creatable here (a directory, a folder this
            // user may not write): SQLite's open below then fails with the error the writer reports for its setting.
        }
    }

    public static AuditStore OpenReadOnly(string path) =>
        File.Exists(path) ? new(path, readOnly: true) : throw new FileNotFoundException("No audit store at this path.", path);

    public long Count()
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(idx) + 1, 0) FROM records";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Appends in one durable transaction, giving consecutive indexes from <paramref name="nextIndex"/> to the
    /// records whose id is new. Returns the leaf hashes of the appended records, in index order.
    /// </summary>
    public IReadOnlyList<byte[]> Append(IReadOnlyList<PendingLeaf> leaves, long nextIndex)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        using var batch = BeginAppend(nextIndex);
        foreach (var leaf in leaves)
        {
            batch.Add(leaf);
        }

        batch.Commit();
        return batch.Appended;
    }

    /// <summary>
    /// Starts one append transaction: everything a batch writes (its records, their subject links and the data keys of
    /// subjects seen for the first time) commits together with one fsync, or not at all. Disposing without
    /// <see cref="AppendBatch.Commit"/> rolls the whole batch back. Writes are serialised by the caller.
    /// </summary>
    public AppendBatch BeginAppend(long nextIndex) => new(this, _writer.BeginTransaction(), nextIndex);

    IAuditAppendBatch IAuditStore.BeginAppend(long nextIndex) => BeginAppend(nextIndex);

    /// <summary>One open append transaction (see <see cref="BeginAppend"/>); its commands are prepared once per store.</summary>
    public sealed partial class AppendBatch : IAuditAppendBatch
    {
        private readonly AuditStore _store;
        private readonly SqliteTransaction _transaction;
        private readonly List<byte[]> _appended = [];
        private long _nextIndex;
        private long _links;
        private bool _done;

        internal AppendBatch(AuditStore store, SqliteTransaction transaction, long nextIndex)
        {
            _store = store;
            _transaction = transaction;
            _nextIndex = nextIndex;
            foreach (var command in store.BatchCommands)
            {
                command.Transaction = transaction;
            }
        }

        /// <summary>The leaf hashes appended so far, in index order.</summary>
        public IReadOnlyList<byte[]> Appended => _appended;

        /// <summary>True when a record with this id is stored (or was added earlier in this batch).</summary>
        public bool Contains(string recordId)
        {
            InsertQueued();
            _store._exists.Parameters[0].Value = recordId;
            return _store._exists.ExecuteScalar() is not null;
        }

        /// <summary>
        /// Which of these ids are stored: one statement for the batch (the ids as a JSON array, each probed in the
        /// record id index), not one statement per id, whose binding and reader were most of a lookup's cost.
        /// </summary>
        public IReadOnlySet<string> StoredOf(IReadOnlyCollection<string> recordIds)
        {
            ArgumentNullException.ThrowIfNull(recordIds);
            var stored = new HashSet<string>(StringComparer.Ordinal);
            if (recordIds.Count == 0)
            {
                return stored;
            }

            InsertQueued();
            var query = _store._storedOf;
            query.Parameters[0].Value = System.Text.Json.JsonSerializer.Serialize(recordIds, StoreJsonContext.Default.IReadOnlyCollectionString);
            using var reader = query.ExecuteReader();
            while (reader.Read())
            {
                stored.Add(reader.GetString(0));
            }

            NoteAbsent(recordIds, stored);
            return stored;
        }

        /// <summary>
        /// The subject row for this blind index and tenant; created with <paramref name="createWrappedKey"/> when
        /// absent, inside this transaction, so a batch that fails leaves no data key behind and a new subject costs no
        /// commit of its own.
        /// </summary>
        public StoredSubject GetOrCreateSubject(byte[] blind, string tenant, Func<byte[]> createWrappedKey, DateTimeOffset now)
        {
            ArgumentNullException.ThrowIfNull(createWrappedKey);
            // Every record whose subject missed the key cache comes here: bound through SQLitePCL like the inserts.
            var db = _store._writer.Handle!;
            var select = _store.RawSelectSubject;
            try
            {
                Check(raw.sqlite3_bind_blob(select, 1, blind), db);
                BindText(select, 2, tenant, db);
                var rc = raw.sqlite3_step(select);
                if (rc == raw.SQLITE_ROW)
                {
                    return new StoredSubject(raw.sqlite3_column_int64(select, 0), raw.sqlite3_column_blob(select, 1).ToArray());
                }

                if (rc != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(rc, db);
                }
            }
            finally
            {
                raw.sqlite3_reset(select);
            }

            var wrapped = createWrappedKey();
            var insert = _store._insertSubject;
            insert.Parameters[0].Value = blind;
            insert.Parameters[1].Value = tenant;
            insert.Parameters[2].Value = wrapped;
            insert.Parameters[3].Value = now.ToUnixTimeMilliseconds();
            return new StoredSubject((long)insert.ExecuteScalar()!, wrapped);
        }

        /// <summary>As <see cref="AuditStore.EraseSubject(byte[], string?, string?, DateTimeOffset)"/>, in this batch's transaction.</summary>
        public ErasureStep EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt)
        {
            InsertQueued();
            return _store.EraseSubject(_transaction, blind, principal, tenant, erasedAt);
        }

        /// <summary>As <see cref="AuditStore.PruneBefore"/>, in this batch's transaction.</summary>
        public PruneStep PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
        {
            InsertQueued();
            return _store.PruneBefore(_transaction, cutoff, tenant, excludedTenants, limit);
        }

        /// <summary>The time of the newest erasure of this subject in this tenant (or in every tenant); null when never erased.</summary>
        public DateTimeOffset? ErasedAt(byte[] blind, string tenant)
        {
            if (!_store._erasedBlinds.Contains(blind))
            {
                return null;
            }

            var db = _store._writer.Handle!;
            var select = _store.RawErasedAt;
            try
            {
                Check(raw.sqlite3_bind_blob(select, 1, blind), db);
                BindText(select, 2, tenant, db);
                var rc = raw.sqlite3_step(select);
                if (rc != raw.SQLITE_ROW)
                {
                    SqliteException.ThrowExceptionForRC(rc, db);
                }

                return raw.sqlite3_column_type(select, 0) == raw.SQLITE_NULL
                    ? null
                    : DateTimeOffset.FromUnixTimeMilliseconds(raw.sqlite3_column_int64(select, 0));
            }
            finally
            {
                raw.sqlite3_reset(select);
            }
        }

        /// <summary>Adds a record at the next index; false (and no index used) when its id is already stored.</summary>
        public bool Add(PendingLeaf leaf)
        {
            ArgumentNullException.ThrowIfNull(leaf);
            if (TryQueue(leaf))
            {
                return true;
            }

            InsertQueued();
            if (!InsertRecord(_nextIndex, leaf))
            {
                return false;
            }

            if (leaf.SubjectId is { } subject)
            {
                InsertLink(_nextIndex, subject);
                _links++;
            }

            _appended.Add(leaf.Hash);
            _nextIndex++;
            return true;
        }

        /// <summary>One record alone; false when its id is stored already.</summary>
        private bool InsertRecord(long index, PendingLeaf leaf)
        {
            var db = _store._writer.Handle!;
            var insert = _store.RawInsert;
            int rc;
            try
            {
                BindRecord(insert, 0, index, leaf, db);
                rc = raw.sqlite3_step(insert);
            }
            finally
            {
                raw.sqlite3_reset(insert);
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }

            return raw.sqlite3_changes(db) == 1;
        }

        private void InsertLink(long index, long subject)
        {
            var db = _store._writer.Handle!;
            var link = _store.RawLink;
            int rc;
            try
            {
                Check(raw.sqlite3_bind_int64(link, 1, index), db);
                Check(raw.sqlite3_bind_int64(link, 2, subject), db);
                rc = raw.sqlite3_step(link);
            }
            finally
            {
                raw.sqlite3_reset(link);
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, db);
            }
        }

        /// <summary>Makes the batch durable (synchronous=FULL: the WAL is fsynced before this returns).</summary>
        public void Commit()
        {
            InsertQueued();
            var recent = _store._recentLinks + _links;
            if (recent >= _store.RecentLinksMergeAt)
            {
                // In the batch's transaction: the links are in one table or the other, whatever a crash interrupts.
                using var merge = _store._writer.CreateCommand();
                merge.Transaction = _transaction;
                merge.CommandText = MergeRecentLinksSql;
                merge.ExecuteNonQuery();
                recent = 0;
            }

            _transaction.Commit();
            _store._recentLinks = recent;
            _done = true;
        }

        public void Dispose()
        {
            if (!_done)
            {
                _transaction.Rollback();
                _done = true;
            }

            foreach (var command in _store.BatchCommands)
            {
                command.Transaction = null;
            }

            _transaction.Dispose();
        }
    }

    /// <summary>Leaf hashes in index order, as stored at append time (used to rebuild the tree at start).</summary>
    public IEnumerable<byte[]> ReadLeafHashes(long fromIndex = 0)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT leaf_hash FROM records WHERE idx >= $from ORDER BY idx";
        command.Parameters.AddWithValue("$from", fromIndex);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return Blob(reader, 0);
        }
    }

    /// <summary>Every leaf with its index and stored hash, in index order.</summary>
    public IEnumerable<StoredLeaf> ReadLeaves()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT idx, leaf, leaf_hash, record_id, time_ms, tenant, route, decision, reason, principal FROM records ORDER BY idx";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredLeaf(reader.GetInt64(0), Blob(reader, 1), Blob(reader, 2))
            {
                Columns = new StoredColumns(reader.GetString(3), reader.GetInt64(4), NullableString(reader, 5), NullableString(reader, 6),
                    NullableString(reader, 7), NullableString(reader, 8), HasPrincipal: true, NullableString(reader, 9)),
            };
        }
    }

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>
    /// A leaf or hash column as bytes whatever its storage class. sqlite3's replace() on a BLOB stores TEXT, so a record
    /// edited by hand that way made (byte[])reader[n] throw: verify crashed instead of naming the record, the API
    /// answered 500. Read as the bytes SQLite holds, the edit is a leaf that no longer matches its hash.
    /// </summary>
    internal static byte[] Blob(SqliteDataReader reader, int ordinal) => reader.GetFieldValue<byte[]>(ordinal);

    /// <summary>The wrapped data key of a subject, or null once it was erased.</summary>
    public StoredSubjectKey? SubjectKey(long subjectId)
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT blind, tenant, wrapped_key FROM subjects WHERE id = $id";
        command.Parameters.AddWithValue("$id", subjectId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredSubjectKey((byte[])reader[0], reader.GetString(1), (byte[])reader[2]) : null;
    }

    /// <summary>
    /// Erases a subject in one transaction: deletes its data keys and their record links (every tenant, or only
    /// <paramref name="tenant"/>), prunes the v1 records that carry <paramref name="principal"/> in plaintext, and stores
    /// the tombstone (blind index, tenant scope, <paramref name="erasedAt"/>) that erases its older records arriving later.
    /// Returns how many records became unreadable.
    /// </summary>
    public long EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt)
    {
        using var transaction = _writer.BeginTransaction();
        var step = EraseSubject(transaction, blind, principal, tenant, erasedAt);
        transaction.Commit();
        return step.Records;
    }

    private ErasureStep EraseSubject(SqliteTransaction transaction, byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt)
    {
        // Before the commit: a rolled-back erasure leaves this set one blind too many, which only costs a tombstone lookup.
        _erasedBlinds.Add(blind.ToArray());
        using (var tombstone = _writer.CreateCommand())
        {
            tombstone.Transaction = transaction;
            tombstone.CommandText = "INSERT INTO erasures (blind, tenant, erased_ms) VALUES ($blind, $tenant, $erased)";
            tombstone.Parameters.AddWithValue("$blind", blind);
            tombstone.Parameters.AddWithValue("$tenant", (object?)tenant ?? DBNull.Value);
            tombstone.Parameters.AddWithValue("$erased", erasedAt.ToUnixTimeMilliseconds());
            tombstone.ExecuteNonQuery();
        }

        var tenantClause = tenant is null ? "" : " AND tenant = $tenant";
        var subjects = $"SELECT id FROM subjects WHERE blind = $blind{tenantClause}";
        var count = 0L;
        using (var command = _writer.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = $"""
                SELECT (SELECT COUNT(*) FROM record_subjects rs JOIN records r ON r.idx = rs.idx
                        WHERE rs.subject IN ({subjects}) AND length(r.leaf) > 0)
                     + (SELECT COUNT(*) FROM recent_record_subjects rs JOIN records r ON r.idx = rs.idx
                        WHERE rs.subject IN ({subjects}) AND length(r.leaf) > 0)
                """;
            command.Parameters.AddWithValue("$blind", blind);
            if (tenant is not null)
            {
                command.Parameters.AddWithValue("$tenant", tenant);
            }

            count += (long)command.ExecuteScalar()!;
            command.CommandText = $"DELETE FROM record_subjects WHERE subject IN ({subjects})";
            command.ExecuteNonQuery();
            command.CommandText = $"DELETE FROM recent_record_subjects WHERE subject IN ({subjects})";
            command.ExecuteNonQuery();
            command.CommandText = $"DELETE FROM subjects WHERE blind = $blind{tenantClause}";
            command.ExecuteNonQuery();
        }

        // v1 records hold the principal in the leaf itself: the only way to erase it is to prune the leaf. A client IP
        // (principal null) has no plaintext column to find v1 records by: only v2 subjects keyed by it are reached.
        var pruned = new List<long>();
        if (principal is not null)
        {
            using var command = _writer.CreateCommand();
            command.Transaction = transaction;
            // The indices go into the erasure's record, which commits with this: every pruned record is named by one.
            command.CommandText = $"UPDATE records SET leaf = X'', principal = NULL WHERE principal = $principal{tenantClause} RETURNING idx";
            command.Parameters.AddWithValue("$principal", principal);
            if (tenant is not null)
            {
                command.Parameters.AddWithValue("$tenant", tenant);
            }

            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    pruned.Add(reader.GetInt64(0));
                }
            }

            pruned.Sort();
            count += pruned.Count;
        }

        return new ErasureStep(count, pruned);
    }

    /// <summary>
    /// Prunes up to <paramref name="limit"/> unpruned records older than <paramref name="cutoff"/> of one tenant
    /// (<paramref name="tenant"/>), or of every tenant not in <paramref name="excludedTenants"/> when tenant is null,
    /// down to their leaf hash, and drops their subject links. Returns how many were pruned.
    /// </summary>
    public int PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
    {
        using var transaction = _writer.BeginTransaction();
        var step = PruneBefore(transaction, cutoff, tenant, excludedTenants, limit);
        transaction.Commit();
        return step.Records;
    }

    private static readonly byte[] s_keepRetention = Verification.PruneCoverage.WriterMarker(AuditEventTypes.RetentionApplied);
    private static readonly byte[] s_keepErasure = Verification.PruneCoverage.WriterMarker(AuditEventTypes.SubjectErased);

    private PruneStep PruneBefore(SqliteTransaction transaction, DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
    {
        ArgumentNullException.ThrowIfNull(excludedTenants);
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        string tenantClause;
        if (tenant is not null)
        {
            tenantClause = " AND tenant = $tenant";
            command.Parameters.AddWithValue("$tenant", tenant);
        }
        else
        {
            var names = excludedTenants.Select((t, i) => "$x" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            tenantClause = names.Count == 0 ? "" : $" AND (tenant IS NULL OR tenant NOT IN ({string.Join(',', names)}))";
            var i = 0;
            foreach (var excluded in excludedTenants)
            {
                command.Parameters.AddWithValue(names[i++], excluded);
            }
        }

        command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$limit", limit);
        command.Parameters.AddWithValue("$keepRetention", s_keepRetention);
        command.Parameters.AddWithValue("$keepErasure", s_keepErasure);
        command.Parameters.AddWithValue("$indices", Verification.PruneCoverage.IndicesMember);
        // The writer's records that name pruned indices are never pruned: each is what explains an earlier prune to a
        // verifier. Oldest first, so a batch names few ranges.
        command.CommandText = $"""
            CREATE TEMP TABLE IF NOT EXISTS prune_batch (idx INTEGER PRIMARY KEY);
            DELETE FROM prune_batch;
            INSERT INTO prune_batch SELECT idx FROM records WHERE time_ms < $cutoff AND length(leaf) > 0{tenantClause}
                AND NOT (substr(leaf, {Verification.PruneCoverage.WriterMarkerOffset}, {s_keepRetention.Length}) = $keepRetention AND instr(leaf, $indices) > 0)
                AND NOT (substr(leaf, {Verification.PruneCoverage.WriterMarkerOffset}, {s_keepErasure.Length}) = $keepErasure AND instr(leaf, $indices) > 0)
                ORDER BY idx LIMIT $limit;
            UPDATE records SET leaf = X'', principal = NULL WHERE idx IN (SELECT idx FROM prune_batch);
            DELETE FROM record_subjects WHERE idx IN (SELECT idx FROM prune_batch);
            DELETE FROM recent_record_subjects WHERE idx IN (SELECT idx FROM prune_batch);
            SELECT idx FROM prune_batch ORDER BY idx;
            """;
        var pruned = new List<long>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                pruned.Add(reader.GetInt64(0));
            }
        }

        return new PruneStep(pruned.Count, pruned);
    }

    public IReadOnlyList<(long SubjectId, long LastIndex)> SubjectsWithoutKey() => [];

    /// <summary>Deletes the data keys no remaining record uses (their records were all pruned). Returns how many.</summary>
    public int DeleteUnusedSubjects()
    {
        using var command = _writer.CreateCommand();
        command.CommandText = """
            DELETE FROM subjects WHERE id NOT IN (SELECT subject FROM record_subjects)
                AND id NOT IN (SELECT subject FROM recent_record_subjects)
            """;
        return command.ExecuteNonQuery();
    }

    /// <summary>
    /// Copies the WAL into the database and truncates it to zero bytes, so deleted bytes survive in neither file.
    /// Returns false when a reader kept the checkpoint from completing.
    /// </summary>
    public bool TruncateWal()
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        using var reader = command.ExecuteReader();
        return reader.Read() && reader.GetInt64(0) == 0;
    }

    public void AddCheckpoint(long size, byte[] root, string note, DateTimeOffset created)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "INSERT INTO checkpoints (size, root, note, created_ms) VALUES ($size, $root, $note, $created)";
        command.Parameters.AddWithValue("$size", size);
        command.Parameters.AddWithValue("$root", root);
        command.Parameters.AddWithValue("$note", note);
        command.Parameters.AddWithValue("$created", created.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredCheckpoint> Checkpoints()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT size, root, note FROM checkpoints ORDER BY size";
        using var reader = command.ExecuteReader();
        var result = new List<StoredCheckpoint>();
        while (reader.Read())
        {
            result.Add(new StoredCheckpoint(reader.GetInt64(0), (byte[])reader[1], reader.GetString(2)));
        }

        return result;
    }

    public StoredCheckpoint? LatestCheckpoint()
    {
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredCheckpoint(reader.GetInt64(0), (byte[])reader[1], reader.GetString(2)) : null;
    }

    /// <summary>
    /// Newest first, with <see cref="RecordQuery.Before"/> as the cursor (an exclusive upper index bound); or, with
    /// <see cref="RecordQuery.Ascending"/>, oldest first with <see cref="RecordQuery.After"/> as the cursor.
    /// </summary>
    public IReadOnlyList<StoredRecord> Query(RecordQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var connection = OpenReader();
        using var command = PageCommand(connection, query);
        return RecordPages.Take(ReadRecords(command), query);
    }

    /// <summary>SQLite's plan for the page <see cref="Query"/> runs, one line per step (tests pin that filters use indexes).</summary>
    internal IReadOnlyList<string> ExplainQuery(RecordQuery query)
    {
        using var connection = OpenReader();
        using var command = PageCommand(connection, query);
        command.CommandText = "EXPLAIN QUERY PLAN " + command.CommandText;
        using var reader = command.ExecuteReader();
        var plan = new List<string>();
        while (reader.Read())
        {
            plan.Add(reader.GetString(3));
        }

        return plan;
    }

    private static SqliteCommand PageCommand(SqliteConnection connection, RecordQuery query)
    {
        var command = connection.CreateCommand();
        var where = BuildWhere(query, command, PreferIndexOrder(connection, query));
        var order = query.Ascending ? "ASC" : "DESC";
        // The page's indexes first, then its rows: with one filter the inner query reads only its (covering) index, so a
        // time window sorts integers, not records with their leaves (32 ms -> under 1 ms for a one-minute window at 1M).
        command.CommandText = $"""
            {SelectRecords}
            WHERE r.idx IN (SELECT r.idx FROM records r{where} ORDER BY r.idx {order} LIMIT $limit) ORDER BY r.idx {order}
            """;
        command.Parameters.AddWithValue("$limit", query.Limit);
        return command;
    }

    /// <summary>Oldest first, streamed, for export of a time range.</summary>
    public IEnumerable<StoredRecord> Export(RecordQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var connection = OpenReader();
        using var command = connection.CreateCommand();
        var where = BuildWhere(query, command, PreferIndexOrder(connection, query with { Ascending = true, After = null }));
        command.CommandText = $"{SelectRecords}{where} ORDER BY r.idx";
        foreach (var record in ReadRecords(command))
        {
            yield return record;
        }
    }

    private const string SelectRecords = """
        SELECT r.idx, r.record_id, r.time_ms, r.tenant, r.principal, r.route, r.decision, r.reason, r.leaf, r.leaf_hash,
            COALESCE(rs.subject, rr.subject)
        FROM records r LEFT JOIN record_subjects rs ON rs.idx = r.idx LEFT JOIN recent_record_subjects rr ON rr.idx = r.idx
        """;

    /// <summary>
    /// A page is ordered by index, but a time range makes SQLite read the whole window through the time index and sort
    /// it (3.6 s for a window of 1M records). Walking the index order instead stops after <c>Limit</c> matches but first
    /// passes every record between the cursor and the window. Records arrive roughly in time order, so two O(log n)
    /// lookups estimate both costs; the cheaper plan is chosen. Both plans return exactly the same rows.
    /// </summary>
    private static bool PreferIndexOrder(SqliteConnection connection, RecordQuery query)
    {
        if (query.From is null && query.To is null)
        {
            return false;
        }

        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE((SELECT idx FROM records WHERE time_ms >= $t ORDER BY time_ms LIMIT 1), (SELECT COALESCE(MAX(idx) + 1, 0) FROM records))";
        var parameter = command.Parameters.Add("$t", SqliteType.Integer);
        long FirstIndexAtOrAfter(DateTimeOffset time)
        {
            parameter.Value = time.ToUnixTimeMilliseconds();
            return (long)command.ExecuteScalar()!;
        }

        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COALESCE(MAX(idx) + 1, 0) FROM records";
        var size = (long)count.ExecuteScalar()!;
        var windowStart = query.From is { } from ? FirstIndexAtOrAfter(from) : 0;
        var windowEnd = query.To is { } to ? FirstIndexAtOrAfter(to) : size;
        var window = Math.Max(0, windowEnd - windowStart);
        var skipped = query.Ascending
            ? Math.Max(0, windowStart - (query.After is { } after ? after + 1 : 0))
            : Math.Max(0, Math.Min(query.Before ?? size, size) - windowEnd);
        return skipped < window;
    }

    /// <summary>
    /// The decision the (tenant, decision) and (decision) indexes leave out (<c>WHERE decision &lt;&gt; 'allow'</c>): most
    /// records are allowed requests, so each costs two index inserts fewer, and a commit dirties no tail page of these
    /// two indexes for them. A query for allowed records finds them in the tenant index, or in index order, where they
    /// are the majority.
    /// </summary>
    internal const string NotInDecisionIndexes = "allow";

    private static string BuildWhere(RecordQuery query, SqliteCommand command, bool indexOrder = false)
    {
        var clauses = new List<string>();
        void Add(string column, string parameter, object? value)
        {
            if (value is not null)
            {
                clauses.Add($"{column} {parameter}");
                command.Parameters.AddWithValue(parameter.Split(' ')[^1], value);
            }
        }

        Add("r.record_id", "= $id", query.Id);
        Add("r.tenant", "= $tenant", query.Tenant);
        if (query.Principal is not null)
        {
            // v1 rows carry the principal in plaintext; v2 rows are found through the keyed blind index only. One IN over
            // both index lookups, not an OR: with statistics SQLite planned the OR as a scan of every record in index order.
            clauses.Add("""
                r.idx IN (SELECT p.idx FROM records p WHERE p.principal = $principal
                 UNION ALL SELECT s_rs.idx FROM record_subjects s_rs JOIN subjects s ON s.id = s_rs.subject WHERE s.blind = $blind
                 UNION ALL SELECT s_rr.idx FROM recent_record_subjects s_rr JOIN subjects s ON s.id = s_rr.subject WHERE s.blind = $blind)
                """);
            command.Parameters.AddWithValue("$principal", query.Principal);
            command.Parameters.AddWithValue("$blind", query.PrincipalBlind ?? []);
        }

        Add("r.route", "= $route", query.Route);
        Add("r.decision", "= $decision", query.Decision);
        if (query.Decision is { } decision && decision != NotInDecisionIndexes)
        {
            // Implied by the equality; spelled as the partial decision indexes' WHERE, the only form SQLite matches.
            clauses.Add($"r.decision <> '{NotInDecisionIndexes}'");
        }

        Add("r.reason", "= $reason", query.Reason);
        // A unary plus keeps SQLite off ix_records_time (same rows, index order); see PreferIndexOrder.
        var time = indexOrder ? "+r.time_ms" : "r.time_ms";
        Add(time, ">= $from", query.From?.ToUnixTimeMilliseconds());
        Add(time, "< $to", query.To?.ToUnixTimeMilliseconds());
        Add("r.idx", "< $before", query.Before);
        Add("r.idx", "> $after", query.After);
        return clauses.Count == 0 ? "" : " WHERE " + string.Join(" AND ", clauses);
    }

    private static IEnumerable<StoredRecord> ReadRecords(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredRecord(
                reader.GetInt64(0),
                reader.GetString(1),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                Blob(reader, 8),
                Blob(reader, 9),
                reader.IsDBNull(10) ? null : reader.GetInt64(10));
        }
    }

    private SqliteConnection OpenReader()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        if (_noRecentLinksTable)
        {
            // A read-only store from before recent_record_subjects: every link is in record_subjects, and an empty
            // temporary view (temp is writable on a read-only connection) lets the readers' statements run unchanged.
            Execute(connection, "CREATE TEMP VIEW IF NOT EXISTS recent_record_subjects (idx, subject) AS SELECT 0, 0 WHERE 0");
        }

        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _rawInsert?.Dispose();
        _rawLink?.Dispose();
        DisposeRowStatements();
        _rawSelectSubject?.Dispose();
        _rawErasedAt?.Dispose();
        _exists.Dispose();
        _storedOf.Dispose();
        _insertSubject.Dispose();
        _writer.Dispose();
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyCollection<string>))]
internal sealed partial class StoreJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
