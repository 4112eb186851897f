using System.Globalization;
using Edge.Audit.Records;
using Npgsql;
using NpgsqlTypes;

namespace Edge.Audit.Storage;

/// <summary>
/// The PostgreSQL store, parallel to the SQLite <see cref="AuditStore"/>: same operations, same record shape. Append-only
/// is enforced by the database twice: triggers refuse UPDATE, DELETE and TRUNCATE of records (with their leaf hashes) and
/// checkpoints, whoever asks; and the writer's runtime role is granted only SELECT/INSERT on them (see
/// <see cref="RuntimeGrants"/>). The only rows that may be deleted are subject data keys, so erasure and retention shred
/// keys and never touch a body; a record keeps its subject id after its key is gone (no foreign key: a cascade would be
/// an UPDATE). Records carry no plaintext principal (v1 leaves were never written here).
/// Several writers may share one database: <see cref="Lease"/> decides which one appends, and every append transaction
/// re-checks that lease under <see cref="AppendBarrierKey"/>, so a writer that lost it cannot commit (see BeginAppend).
/// </summary>
public sealed partial class PostgresAuditStore : IAuditStore
{
    /// <summary>The schema version this code creates; a database at an older version is migrated on open.</summary>
    public const int SchemaVersion = 3;

    /// <summary>Transaction-scoped advisory lock held by every append and by a new sequencer before it reads the log.</summary>
    public const long AppendBarrierKey = 0x45444745_41505044; // "EDGE" "APPD"

    private const long MigrationKey = 0x45444745_4D494752; // "EDGE" "MIGR"

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_schema (version integer PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS audit_records (
            idx bigint PRIMARY KEY,
            record_id text NOT NULL UNIQUE,
            time_ms bigint NOT NULL,
            tenant text,
            route text,
            decision text,
            reason text,
            subject_id bigint,
            leaf bytea NOT NULL,
            leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32)
        );
        CREATE INDEX IF NOT EXISTS ix_audit_records_tenant ON audit_records (tenant, idx);
        CREATE INDEX IF NOT EXISTS ix_audit_records_tenant_decision ON audit_records (tenant, decision, idx);
        CREATE INDEX IF NOT EXISTS ix_audit_records_route ON audit_records (route, idx);
        CREATE INDEX IF NOT EXISTS ix_audit_records_decision ON audit_records (decision, idx);
        CREATE INDEX IF NOT EXISTS ix_audit_records_tenant_reason ON audit_records (tenant, reason, idx) WHERE reason IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_audit_records_reason ON audit_records (reason, idx) WHERE reason IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_audit_records_time ON audit_records (time_ms);
        CREATE INDEX IF NOT EXISTS ix_audit_records_subject ON audit_records (subject_id, time_ms) WHERE subject_id IS NOT NULL;
        CREATE TABLE IF NOT EXISTS audit_subjects (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            blind bytea NOT NULL,
            tenant text NOT NULL,
            wrapped_key bytea NOT NULL,
            created_ms bigint NOT NULL,
            UNIQUE (blind, tenant)
        );
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            size bigint PRIMARY KEY,
            root bytea NOT NULL,
            note text NOT NULL,
            created_ms bigint NOT NULL
        );
        CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE OR REPLACE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
            FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_subjects_no_update BEFORE UPDATE ON audit_subjects
            FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        INSERT INTO audit_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
        """ + TileSchema + """
        INSERT INTO audit_schema (version) VALUES (2) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS audit_erasures (
            blind bytea NOT NULL,
            tenant text,
            erased_ms bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_audit_erasures_blind ON audit_erasures (blind, erased_ms);
        CREATE OR REPLACE TRIGGER audit_erasures_append_only BEFORE UPDATE OR DELETE ON audit_erasures
            FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
        CREATE OR REPLACE TRIGGER audit_erasures_no_truncate BEFORE TRUNCATE ON audit_erasures
            FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
        INSERT INTO audit_schema (version) VALUES (3) ON CONFLICT DO NOTHING;
        """;

    /// <summary>
    /// The grants of the writer's runtime role (<c>{role}</c>); the owner role that created the schema keeps everything else.
    /// docs/audit-postgres.md shows the same statements.
    /// </summary>
    public const string RuntimeGrants = """
        GRANT SELECT, INSERT ON audit_records, audit_checkpoints, audit_erasures TO {role};
        GRANT SELECT ON audit_schema TO {role};
        GRANT SELECT, INSERT, DELETE ON audit_subjects TO {role};
        GRANT USAGE ON SEQUENCE audit_subjects_id_seq TO {role};
        GRANT SELECT, INSERT ON audit_tiles TO {role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON audit_partial_tiles TO {role};
        """;

    private readonly NpgsqlDataSource _dataSource;
    private int _shreddedSinceLastCall;

    private PostgresAuditStore(NpgsqlDataSource dataSource, string location, string connectionString)
    {
        _dataSource = dataSource;
        Location = location;
        Lease = new PostgresWriterLease(connectionString);
    }

    public string Location { get; }

    /// <summary>The sequencer lease of this writer (a dedicated connection); appends commit only while it is held.</summary>
    public PostgresWriterLease Lease { get; }

    /// <summary>Opens the store and creates or migrates its schema (once, under an advisory lock, when it is behind).</summary>
    public static PostgresAuditStore Open(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            // The batch statements run once per record: prepared server-side after a few uses.
            builder.MaxAutoPrepare = 32;
        }

        var location = string.Create(CultureInfo.InvariantCulture, $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}");
        var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        try
        {
            Migrate(dataSource);
        }
        catch
        {
            dataSource.Dispose();
            throw;
        }

        return new PostgresAuditStore(dataSource, location, builder.ConnectionString);
    }

    /// <summary>Opens an existing store for reading (verification); never creates or migrates anything.</summary>
    public static PostgresAuditStore OpenReadOnly(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        var store = new PostgresAuditStore(dataSource, $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}", builder.ConnectionString);
        if (store.StoredSchemaVersion() is null)
        {
            store.Dispose();
            throw new InvalidOperationException("No audit store in this database (table audit_schema is missing).");
        }

        return store;
    }

    /// <summary>Grants <paramref name="role"/> the runtime rights of <see cref="RuntimeGrants"/>; run as the owner.</summary>
    public static void GrantRuntimeRole(string ownerConnectionString, string role)
    {
        using var dataSource = NpgsqlDataSource.Create(ownerConnectionString);
        using var command = dataSource.CreateCommand(RuntimeGrants.Replace("{role}", QuoteIdentifier(role), StringComparison.Ordinal));
        command.ExecuteNonQuery();
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static void Migrate(NpgsqlDataSource dataSource)
    {
        using var connection = dataSource.OpenConnection();
        // A runtime role without CREATE rights can open a store the owner already migrated: nothing to do.
        if (ReadVersion(connection) >= SchemaVersion)
        {
            return;
        }

        using var transaction = connection.BeginTransaction();
        using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            // Two writers starting at once: the second waits here, then finds every object created.
            command.Parameters.AddWithValue("key", MigrationKey);
            command.ExecuteNonQuery();
        }

        using (var command = new NpgsqlCommand(Schema, connection, transaction))
        {
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private int? StoredSchemaVersion()
    {
        using var connection = _dataSource.OpenConnection();
        return ReadVersion(connection);
    }

    private static int? ReadVersion(NpgsqlConnection connection)
    {
        using var command = new NpgsqlCommand(
            "SELECT CASE WHEN to_regclass('audit_schema') IS NULL THEN NULL ELSE 0 END", connection);
        if (command.ExecuteScalar() is DBNull or null)
        {
            return null;
        }

        command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM audit_schema";
        return (int)command.ExecuteScalar()!;
    }

    public long Count()
    {
        using var command = _dataSource.CreateCommand("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_records");
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// Opens the append transaction and fences it: it takes the <see cref="AppendBarrierKey"/> transaction lock, then checks
    /// that this writer's lease connection still holds the lease and that the log ends at <paramref name="nextIndex"/>. A
    /// writer taking over takes the same barrier before it reads the log (<see cref="WaitForInFlightAppends"/>), so every
    /// append of the previous sequencer has either committed before that read or will fail this check. The primary key on
    /// the index is the last line: two commits of one index cannot both succeed.
    /// </summary>
    public IAuditAppendBatch BeginAppend(long nextIndex)
    {
        var connection = _dataSource.OpenConnection();
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = connection.BeginTransaction();
            using (var fence = new NpgsqlCommand(
                """
                SELECT pg_advisory_xact_lock(@barrier);
                SELECT (SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_records),
                       EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = @pid
                               AND classid::bigint = @hi AND objid::bigint = @lo AND objsubid = 1);
                """, connection, transaction))
            {
                fence.Parameters.AddWithValue("barrier", AppendBarrierKey);
                fence.Parameters.AddWithValue("pid", Lease.BackendPid ?? -1);
                fence.Parameters.AddWithValue("hi", PostgresWriterLease.Key >> 32);
                fence.Parameters.AddWithValue("lo", PostgresWriterLease.Key & 0xFFFF_FFFF);
                using var reader = fence.ExecuteReader();
                reader.NextResult();
                reader.Read();
                var count = reader.GetInt64(0);
                var leaseHeld = reader.GetBoolean(1);
                if (!leaseHeld)
                {
                    throw new AuditStoreFencedException("this writer no longer holds the sequencer lease");
                }

                if (count != nextIndex)
                {
                    throw new AuditStoreFencedException(string.Create(CultureInfo.InvariantCulture,
                        $"the log holds {count} records but this writer would append at {nextIndex}"));
                }
            }

            return new AppendBatch(this, connection, transaction, nextIndex);
        }
        catch
        {
            transaction?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Returns once no append transaction is in flight (a new sequencer calls this before reading the log).</summary>
    public void WaitForInFlightAppends()
    {
        _subjects.Clear();
        _erasures.Clear();
        using var connection = _dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@barrier)", connection, transaction);
        command.Parameters.AddWithValue("barrier", AppendBarrierKey);
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>
    /// One append transaction. Round trips, not rows, are what cost here, so a batch sends few: one query for the ids
    /// already stored, one statement per subject not in <see cref="_subjects"/>, and its records as one binary COPY at
    /// commit, inside the fenced transaction.
    /// </summary>
    private sealed partial class AppendBatch : IAuditAppendBatch
    {
        private readonly PostgresAuditStore _store;
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;
        private readonly List<byte[]> _appended = [];
        private readonly List<PendingLeaf> _rows = [];
        private readonly HashSet<string> _added = new(StringComparer.Ordinal);
        private long _nextIndex;
        private bool _done;

        public AppendBatch(PostgresAuditStore store, NpgsqlConnection connection, NpgsqlTransaction transaction, long nextIndex)
        {
            _store = store;
            _connection = connection;
            _transaction = transaction;
            _nextIndex = nextIndex;
        }

        public IReadOnlyList<byte[]> Appended => _appended;

        public bool Contains(string recordId) => _added.Contains(recordId) || StoredOf([recordId]).Count > 0;

        public IReadOnlySet<string> StoredOf(IReadOnlyCollection<string> recordIds)
        {
            ArgumentNullException.ThrowIfNull(recordIds);
            var stored = new HashSet<string>(recordIds.Where(_added.Contains), StringComparer.Ordinal);
            using var command = new NpgsqlCommand("SELECT record_id FROM audit_records WHERE record_id = ANY(@ids)", _connection, _transaction);
            command.Parameters.AddWithValue("ids", recordIds.ToArray());
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                stored.Add(reader.GetString(0));
            }

            return stored;
        }

        public DateTimeOffset? ErasedAt(byte[] blind, string tenant)
        {
            var cacheKey = new SubjectCacheKey(Convert.ToBase64String(blind), tenant);
            if (!_store._erasures.TryGetValue(cacheKey, out var erasedMs))
            {
                using var command = new NpgsqlCommand(
                    "SELECT MAX(erased_ms) FROM audit_erasures WHERE blind = @blind AND (tenant IS NULL OR tenant = @tenant)", _connection, _transaction);
                command.Parameters.AddWithValue("blind", blind);
                command.Parameters.AddWithValue("tenant", tenant);
                erasedMs = command.ExecuteScalar() is long stored ? stored : NeverErased;
                // Committed state, whatever this batch does: only EraseSubject adds tombstones, and it clears this cache.
                _store.CacheErasure(cacheKey, erasedMs);
            }

            return erasedMs == NeverErased ? null : DateTimeOffset.FromUnixTimeMilliseconds(erasedMs);
        }

        public ErasureStep EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt)
        {
            // The caches may now hold what only this transaction saw; they are cleared again once it ends either way.
            _erased = true;
            return _store.EraseSubject(_connection, _transaction, blind, tenant, erasedAt);
        }

        public PruneStep PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
        {
            _erased = true;
            var step = _store.PruneBefore(_connection, _transaction, cutoff, tenant, excludedTenants, limit);
            _shredded += step.Deleted.Count;
            return step;
        }

        private int _shredded;

        private bool _erased;

        public StoredSubject GetOrCreateSubject(byte[] blind, string tenant, Func<byte[]> createWrappedKey, DateTimeOffset now)
        {
            ArgumentNullException.ThrowIfNull(createWrappedKey);
            var cacheKey = new SubjectCacheKey(Convert.ToBase64String(blind), tenant);
            if (_store._subjects.TryGetValue(cacheKey, out var cached))
            {
                return cached;
            }

            // One round trip whether the subject exists or not; the key wrapped for a subject that already exists is
            // discarded (and ON CONFLICT skips an identity value, which only leaves a gap in subject ids).
            var wrapped = createWrappedKey();
            using var upsert = new NpgsqlCommand(
                """
                WITH created AS (
                    INSERT INTO audit_subjects (blind, tenant, wrapped_key, created_ms) VALUES (@blind, @tenant, @key, @now)
                    ON CONFLICT (blind, tenant) DO NOTHING RETURNING id, wrapped_key)
                SELECT id, wrapped_key FROM created
                UNION ALL SELECT id, wrapped_key FROM audit_subjects WHERE blind = @blind AND tenant = @tenant
                LIMIT 1
                """, _connection, _transaction);
            upsert.Parameters.AddWithValue("blind", blind);
            upsert.Parameters.AddWithValue("tenant", tenant);
            upsert.Parameters.AddWithValue("key", wrapped);
            upsert.Parameters.AddWithValue("now", now.ToUnixTimeMilliseconds());
            using var reader = upsert.ExecuteReader();
            reader.Read();
            var subject = new StoredSubject(reader.GetInt64(0), (byte[])reader[1]);
            // Cached only once the batch commits: a rolled-back batch must not leave a subject id that was never stored.
            _pendingSubjects.Add((cacheKey, subject));
            return subject;
        }

        private readonly List<(SubjectCacheKey Key, StoredSubject Subject)> _pendingSubjects = [];

        public bool Add(PendingLeaf leaf)
        {
            ArgumentNullException.ThrowIfNull(leaf);
            if (leaf.Summary.Principal is not null)
            {
                // Only v2 leaves (principal encrypted under a shreddable key) are stored here: a plaintext principal could
                // never be erased from an append-only table.
                throw new InvalidOperationException("The PostgreSQL store accepts only protected (v2) leaves.");
            }

            if (!_added.Add(leaf.Summary.Id))
            {
                return false;
            }

            _rows.Add(leaf);
            _appended.Add(leaf.Hash);
            _nextIndex++;
            return true;
        }

        /// <summary>
        /// Writes the records (binary COPY) and commits; a record id stored meanwhile fails the unique index and rolls the
        /// whole batch back. PostgreSQL's synchronous_commit (on by default) makes the WAL durable before this returns.
        /// </summary>
        public void Commit()
        {
            if (_rows.Count > 0)
            {
                var index = _nextIndex - _rows.Count;
                using var copy = _connection.BeginBinaryImport(
                    "COPY audit_records (idx, record_id, time_ms, tenant, route, decision, reason, subject_id, leaf, leaf_hash) FROM STDIN (FORMAT BINARY)");
                foreach (var leaf in _rows)
                {
                    copy.StartRow();
                    copy.Write(index++, NpgsqlDbType.Bigint);
                    copy.Write(leaf.Summary.Id, NpgsqlDbType.Text);
                    copy.Write(leaf.Summary.Time.ToUnixTimeMilliseconds(), NpgsqlDbType.Bigint);
                    WriteText(copy, leaf.Summary.Tenant);
                    WriteText(copy, leaf.Summary.Route);
                    WriteText(copy, leaf.Summary.Decision);
                    WriteText(copy, leaf.Summary.Reason);
                    if (leaf.SubjectId is { } subject)
                    {
                        copy.Write(subject, NpgsqlDbType.Bigint);
                    }
                    else
                    {
                        copy.WriteNull();
                    }

                    copy.Write(leaf.Bytes, NpgsqlDbType.Bytea);
                    copy.Write(leaf.Hash, NpgsqlDbType.Bytea);
                }

                copy.Complete();
            }

            _transaction.Commit();
            _done = true;
            Interlocked.Add(ref _store._shreddedSinceLastCall, _shredded);
            foreach (var (key, subject) in _pendingSubjects)
            {
                _store.CacheSubject(key, subject);
            }
        }

        private static void WriteText(NpgsqlBinaryImporter copy, string? value)
        {
            if (value is null)
            {
                copy.WriteNull();
            }
            else
            {
                copy.Write(value, NpgsqlDbType.Text);
            }
        }

        public void Dispose()
        {
            if (!_done)
            {
                try
                {
                    _transaction.Rollback();
                }
                catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
                {
                    // A broken connection has rolled the transaction back already.
                }

                _done = true;
            }

            _transaction.Dispose();
            _connection.Dispose();
            if (_erased)
            {
                _store._subjects.Clear();
                _store._erasures.Clear();
            }
        }
    }

    private readonly record struct SubjectCacheKey(string Blind, string Tenant);

    /// <summary>
    /// Subjects the sequencer has resolved, so a returning subject costs no round trip. Only this store deletes subjects
    /// (erasure, retention: both clear it) and a writer clears it when it takes over (another sequencer may have erased
    /// meanwhile). Bounded: emptied when full.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SubjectCacheKey, StoredSubject> _subjects = new();

    private const int SubjectCacheCapacity = 200_000;

    /// <summary>
    /// The newest tombstone time of each subject looked up (<see cref="NeverErased"/> for none), so a subject returning
    /// in a later batch costs no round trip. Cleared with <see cref="_subjects"/>: by erasure here, and when this writer
    /// takes over (another writer may have erased meanwhile).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SubjectCacheKey, long> _erasures = new();

    private const long NeverErased = long.MinValue;

    private void CacheErasure(SubjectCacheKey key, long erasedMs)
    {
        if (_erasures.Count >= SubjectCacheCapacity)
        {
            _erasures.Clear();
        }

        _erasures[key] = erasedMs;
    }

    private void CacheSubject(SubjectCacheKey key, StoredSubject subject)
    {
        if (_subjects.Count >= SubjectCacheCapacity)
        {
            _subjects.Clear();
        }

        _subjects[key] = subject;
    }

    public IEnumerable<byte[]> ReadLeafHashes(long fromIndex = 0)
    {
        using var connection = _dataSource.OpenConnection();
        using var command = new NpgsqlCommand("SELECT leaf_hash FROM audit_records WHERE idx >= @from ORDER BY idx", connection);
        command.Parameters.AddWithValue("from", fromIndex);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return (byte[])reader[0];
        }
    }

    public IEnumerable<StoredLeaf> ReadLeaves()
    {
        using var connection = _dataSource.OpenConnection();
        using var command = new NpgsqlCommand("SELECT idx, leaf, leaf_hash, record_id, time_ms, tenant, route, decision, reason FROM audit_records ORDER BY idx", connection);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredLeaf(reader.GetInt64(0), (byte[])reader[1], (byte[])reader[2])
            {
                Columns = new StoredColumns(reader.GetString(3), reader.GetInt64(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8), HasPrincipal: false, Principal: null),
            };
        }
    }

    public StoredSubjectKey? SubjectKey(long subjectId)
    {
        using var command = _dataSource.CreateCommand("SELECT blind, tenant, wrapped_key FROM audit_subjects WHERE id = @id");
        command.Parameters.AddWithValue("id", subjectId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredSubjectKey((byte[])reader[0], reader.GetString(1), (byte[])reader[2]) : null;
    }

    /// <summary>
    /// Deletes the subject's data keys (its records stay, their personal fields now undecryptable) and stores its tombstone,
    /// in one transaction.
    /// </summary>
    public long EraseSubject(byte[] blind, string? principal, string? tenant, DateTimeOffset erasedAt)
    {
        using var connection = _dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        var step = EraseSubject(connection, transaction, blind, tenant, erasedAt);
        transaction.Commit();
        return step.Records;
    }

    private ErasureStep EraseSubject(NpgsqlConnection connection, NpgsqlTransaction transaction, byte[] blind, string? tenant, DateTimeOffset erasedAt)
    {
        _subjects.Clear();
        _erasures.Clear();
        var tenantClause = tenant is null ? "" : " AND tenant = @tenant";
        using var command = new NpgsqlCommand(
            $"""
            WITH erased AS (DELETE FROM audit_subjects WHERE blind = @blind{tenantClause} RETURNING id),
            tombstone AS (INSERT INTO audit_erasures (blind, tenant, erased_ms) VALUES (@blind, @scope, @erased))
            SELECT (SELECT COUNT(*) FROM audit_records WHERE subject_id IN (SELECT id FROM erased)),
                   COALESCE((SELECT array_agg(id ORDER BY id) FROM erased), ARRAY[]::bigint[])
            """, connection, transaction);
        command.Parameters.AddWithValue("blind", blind);
        command.Parameters.Add(new NpgsqlParameter("scope", NpgsqlDbType.Text) { Value = (object?)tenant ?? DBNull.Value });
        command.Parameters.AddWithValue("erased", erasedAt.ToUnixTimeMilliseconds());
        if (tenant is not null)
        {
            command.Parameters.AddWithValue("tenant", tenant);
        }

        using var reader = command.ExecuteReader();
        reader.Read();
        // The erased subjects' ids go into the erasure's record: on this engine a record keeps its subject id after its key
        // is gone, and a verifier holds every keyless subject against the records that say who deleted its key.
        return new ErasureStep(reader.GetInt64(0), []) { DeletedSubjects = reader.GetFieldValue<long[]>(1) };
    }

    /// <summary>
    /// Shreds the data keys of up to <paramref name="limit"/> subjects (of one tenant, or of every tenant not excluded)
    /// whose newest record is older than the cutoff. Bodies stay: they are append-only here. Returns how many records
    /// became unreadable.
    /// </summary>
    public int PruneBefore(DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
    {
        using var connection = _dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        var step = PruneBefore(connection, transaction, cutoff, tenant, excludedTenants, limit);
        transaction.Commit();
        Interlocked.Add(ref _shreddedSinceLastCall, step.Deleted.Count);
        return step.Records;
    }

    private PruneStep PruneBefore(
        NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset cutoff, string? tenant, IReadOnlyCollection<string> excludedTenants, int limit)
    {
        ArgumentNullException.ThrowIfNull(excludedTenants);
        _subjects.Clear();
        _erasures.Clear();
        using var command = new NpgsqlCommand { Connection = connection, Transaction = transaction };
        string tenantClause;
        if (tenant is not null)
        {
            tenantClause = "s.tenant = @tenant";
            command.Parameters.AddWithValue("tenant", tenant);
        }
        else
        {
            tenantClause = "NOT (s.tenant = ANY(@excluded))";
            command.Parameters.AddWithValue("excluded", excludedTenants.ToArray());
        }

        command.Parameters.AddWithValue("cutoff", cutoff.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("limit", limit);
        command.CommandText = $"""
            WITH expired AS (
                SELECT s.id FROM audit_subjects s
                WHERE {tenantClause}
                  AND NOT EXISTS (SELECT 1 FROM audit_records r WHERE r.subject_id = s.id AND r.time_ms >= @cutoff)
                ORDER BY s.id
                LIMIT @limit),
            shredded AS (DELETE FROM audit_subjects WHERE id IN (SELECT id FROM expired) RETURNING id)
            SELECT COALESCE((SELECT array_agg(id ORDER BY id) FROM shredded), ARRAY[]::bigint[]),
                   (SELECT COUNT(*) FROM audit_records WHERE subject_id IN (SELECT id FROM shredded))
            """;
        long[] subjects;
        long records;
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            subjects = reader.GetFieldValue<long[]>(0);
            records = reader.GetInt64(1);
        }

        // Each shredded subject has at least one record, so a full batch of subjects reports at least `limit` records and
        // the caller asks again.
        return new PruneStep((int)Math.Min(records, int.MaxValue), subjects);
    }

    public int DeleteUnusedSubjects() => Interlocked.Exchange(ref _shreddedSinceLastCall, 0);

    public IReadOnlyList<(long SubjectId, long LastIndex)> SubjectsWithoutKey()
    {
        using var command = _dataSource.CreateCommand(
            "SELECT r.subject_id, MAX(r.idx) FROM audit_records r WHERE r.subject_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_subjects s WHERE s.id = r.subject_id) GROUP BY r.subject_id ORDER BY r.subject_id");
        using var reader = command.ExecuteReader();
        var result = new List<(long, long)>();
        while (reader.Read())
        {
            result.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }

        return result;
    }

    /// <summary>
    /// VACUUMs the key table when this role owns it, so deleted keys leave its live pages at once; a runtime role does not own
    /// it and leaves that to autovacuum. Returns true either way: on PostgreSQL a deleted key is gone for every SQL reader
    /// when the delete commits, and the physical copies (dead tuples, WAL segments, base backups) are governed by the
    /// database's own vacuum and backup retention, as docs/audit-postgres.md says; the writer cannot truncate them.
    /// </summary>
    public bool TruncateWal()
    {
        using var connection = _dataSource.OpenConnection();
        using var owner = new NpgsqlCommand(
            "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables WHERE tablename = 'audit_subjects' AND schemaname = ANY(current_schemas(false))",
            connection);
        if (owner.ExecuteScalar() is true)
        {
            using var vacuum = new NpgsqlCommand("VACUUM audit_subjects", connection);
            vacuum.ExecuteNonQuery();
        }

        return true;
    }

    public void AddCheckpoint(long size, byte[] root, string note, DateTimeOffset created)
    {
        using var command = _dataSource.CreateCommand("INSERT INTO audit_checkpoints (size, root, note, created_ms) VALUES (@size, @root, @note, @created)");
        command.Parameters.AddWithValue("size", size);
        command.Parameters.AddWithValue("root", root);
        command.Parameters.AddWithValue("note", note);
        command.Parameters.AddWithValue("created", created.ToUnixTimeMilliseconds());
        command.ExecuteNonQuery();
    }

    public IReadOnlyList<StoredCheckpoint> Checkpoints()
    {
        using var command = _dataSource.CreateCommand("SELECT size, root, note FROM audit_checkpoints ORDER BY size");
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
        using var command = _dataSource.CreateCommand("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1");
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredCheckpoint(reader.GetInt64(0), (byte[])reader[1], reader.GetString(2)) : null;
    }

    public IReadOnlyList<StoredRecord> Query(RecordQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var connection = _dataSource.OpenConnection();
        using var command = new NpgsqlCommand { Connection = connection };
        var where = BuildWhere(query, command);
        var order = query.Ascending ? "ASC" : "DESC";
        command.CommandText = $"{SelectRecords}{where} ORDER BY r.idx {order} LIMIT @limit";
        command.Parameters.AddWithValue("limit", query.Limit);
        return RecordPages.Take(ReadRecords(command), query);
    }

    public IEnumerable<StoredRecord> Export(RecordQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var connection = _dataSource.OpenConnection();
        using var command = new NpgsqlCommand { Connection = connection };
        var where = BuildWhere(query, command);
        command.CommandText = $"{SelectRecords}{where} ORDER BY r.idx";
        foreach (var record in ReadRecords(command))
        {
            yield return record;
        }
    }

    /// <summary>The subject id is reported only while its key exists, as on SQLite where erasure drops the link.</summary>
    private const string SelectRecords = """
        SELECT r.idx, r.record_id, r.time_ms, r.tenant, r.route, r.decision, r.reason, r.leaf, r.leaf_hash, s.id
        FROM audit_records r LEFT JOIN audit_subjects s ON s.id = r.subject_id
        """;

    private static string BuildWhere(RecordQuery query, NpgsqlCommand command)
    {
        var clauses = new List<string>();
        void Add(string clause, string parameter, object? value)
        {
            if (value is not null)
            {
                clauses.Add(clause);
                command.Parameters.AddWithValue(parameter, value);
            }
        }

        Add("r.record_id = @id", "id", query.Id);
        Add("r.tenant = @tenant", "tenant", query.Tenant);
        if (query.Principal is not null)
        {
            // Principals are found through the keyed blind index only; an erased subject has no key row and so no match.
            clauses.Add("r.subject_id IN (SELECT id FROM audit_subjects WHERE blind = @blind)");
            command.Parameters.AddWithValue("blind", query.PrincipalBlind ?? []);
        }

        Add("r.route = @route", "route", query.Route);
        Add("r.decision = @decision", "decision", query.Decision);
        Add("r.reason = @reason", "reason", query.Reason);
        Add("r.time_ms >= @from", "from", query.From?.ToUnixTimeMilliseconds());
        Add("r.time_ms < @to", "to", query.To?.ToUnixTimeMilliseconds());
        Add("r.idx < @before", "before", query.Before);
        Add("r.idx > @after", "after", query.After);
        return clauses.Count == 0 ? "" : " WHERE " + string.Join(" AND ", clauses);
    }

    private static IEnumerable<StoredRecord> ReadRecords(NpgsqlCommand command)
    {
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return new StoredRecord(
                reader.GetInt64(0),
                reader.GetString(1),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                null,
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                (byte[])reader[7],
                (byte[])reader[8],
                reader.IsDBNull(9) ? null : reader.GetInt64(9));
        }
    }

    public void Dispose()
    {
        Lease.Dispose();
        _dataSource.Dispose();
    }
}

/// <summary>An append refused because this writer is no longer the sequencer, or its view of the log is stale.</summary>
public sealed class AuditStoreFencedException(string message) : Exception(message);
