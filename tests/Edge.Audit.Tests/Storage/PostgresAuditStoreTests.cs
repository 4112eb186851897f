using Edge.Audit.Storage;
using Edge.Testing;
using Npgsql;

namespace Edge.Audit.Tests.Storage;

/// <summary>The PostgreSQL store against a real PostgreSQL (one server per class, one database per test).</summary>
public sealed class PostgresAuditStoreTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const string WriterRole = "edge_audit_writer";

    private async Task<string> NewDatabaseAsync() => await postgres.Server.CreateDatabaseAsync();

    private static PostgresAuditStore OpenAsSequencer(string connectionString)
    {
        var store = PostgresAuditStore.Open(connectionString);
        Assert.True(store.Lease.TryAcquire());
        return store;
    }

    private static void AppendOne(IAuditStore store, string id, long subjectBlind = 1)
    {
        using var batch = store.BeginAppend(store.Count());
        var subject = batch.GetOrCreateSubject([(byte)subjectBlind], "acme", () => [9, 9, 9], DateTimeOffset.UtcNow);
        Assert.True(batch.Add(AuditStoreTests.Leaf(id) with { SubjectId = subject.Id }));
        batch.Commit();
    }

    [Fact]
    public async Task Append_DuplicateRecordId_IsStoredOnce()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));

        using (var batch = store.BeginAppend(0))
        {
            Assert.True(batch.Add(AuditStoreTests.Leaf("a")));
            Assert.True(batch.Add(AuditStoreTests.Leaf("b")));
            Assert.False(batch.Add(AuditStoreTests.Leaf("a")));
            Assert.True(batch.Contains("b"));
            batch.Commit();
            Assert.Equal(2, batch.Appended.Count);
        }

        using (var batch = store.BeginAppend(2))
        {
            Assert.Equal(["b"], batch.StoredOf(["b", "c"]));
            Assert.True(batch.Contains("b"));
            Assert.True(batch.Add(AuditStoreTests.Leaf("c")));
            batch.Commit();
        }

        // A caller that skips StoredOf cannot store a replay twice: the unique id fails the commit, which stores nothing.
        using (var batch = store.BeginAppend(3))
        {
            Assert.True(batch.Add(AuditStoreTests.Leaf("d")));
            Assert.True(batch.Add(AuditStoreTests.Leaf("a")));
            var refused = Assert.Throws<PostgresException>(batch.Commit);
            Assert.Equal(PostgresErrorCodes.UniqueViolation, refused.SqlState);
        }

        Assert.Equal(3, store.Count());
        Assert.Equal(["c", "b", "a"], store.Query(new RecordQuery()).Select(r => r.Id));
        Assert.Equal(store.ReadLeaves().Select(l => l.StoredHash), store.ReadLeafHashes());
        Assert.Single(store.ReadLeafHashes(2));
    }

    [Fact]
    public async Task BeginAppend_DisposedWithoutCommit_LeavesNeitherRecordsNorSubjects()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));
        using (var batch = store.BeginAppend(0))
        {
            var subject = batch.GetOrCreateSubject([1, 2, 3], "acme", () => [9, 9], DateTimeOffset.UtcNow);
            Assert.True(batch.Add(AuditStoreTests.Leaf("a") with { SubjectId = subject.Id }));
        }

        using (var batch = store.BeginAppend(0))
        {
            var created = false;
            var subject = batch.GetOrCreateSubject([1, 2, 3], "acme", () => { created = true; return [7, 7]; }, DateTimeOffset.UtcNow);
            Assert.True(created);
            Assert.False(batch.Contains("a"));
            batch.Add(AuditStoreTests.Leaf("b") with { SubjectId = subject.Id });
            batch.Commit();
        }

        Assert.Equal(["b"], store.Query(new RecordQuery()).Select(r => r.Id));
    }

    [Fact]
    public async Task BeginAppend_WithoutTheLease_IsFencedAndStoresNothing()
    {
        var database = await NewDatabaseAsync();
        var connectionString = postgres.Server.ConnectionString(database);
        using var leader = OpenAsSequencer(connectionString);
        using var standby = PostgresAuditStore.Open(connectionString);

        Assert.False(standby.Lease.TryAcquire());
        var fenced = Assert.Throws<AuditStoreFencedException>(() => standby.BeginAppend(0));
        Assert.Contains("lease", fenced.Message, StringComparison.Ordinal);
        Assert.Equal(0, leader.Count());
    }

    [Fact]
    public async Task BeginAppend_AfterLeaseConnectionKilled_IsFencedAndStandbyTakesTheLease()
    {
        var database = await NewDatabaseAsync();
        var connectionString = postgres.Server.ConnectionString(database);
        using var leader = OpenAsSequencer(connectionString);
        using var standby = PostgresAuditStore.Open(connectionString);
        AppendOne(leader, "a");

        // The server ends the leader's lease session, as it does when the leader's process dies or its connection breaks.
        await postgres.Server.ExecuteAsync(database, $"SELECT pg_terminate_backend({leader.Lease.BackendPid})");
        var takenOver = false;
        for (var attempt = 0; attempt < 50 && !takenOver; attempt++)
        {
            takenOver = standby.Lease.TryAcquire();
            await Task.Delay(100);
        }

        Assert.True(takenOver);
        Assert.Throws<AuditStoreFencedException>(() => leader.BeginAppend(1));
        Assert.False(leader.Lease.IsAlive());
        standby.WaitForInFlightAppends();
        AppendOne(standby, "b");
        Assert.Equal(["b", "a"], standby.Query(new RecordQuery()).Select(r => r.Id));
    }

    [Fact]
    public async Task Query_MaxLeafBytes_StopsAfterTheRowThatCrossesIt()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));
        var leaves = Enumerable.Range(0, 10).Select(i => AuditStoreTests.Leaf($"r{i}")).ToList();
        using (var batch = store.BeginAppend(0))
        {
            Assert.All(leaves, leaf => Assert.True(batch.Add(leaf)));
            batch.Commit();
        }

        AuditStoreTests.AssertQueriesStopAfterTheRowThatCrossesMaxLeafBytes(store, leaves[0].Bytes.Length);
    }

    [Fact]
    public async Task BeginAppend_StaleNextIndex_IsFenced()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));
        AppendOne(store, "a");

        var fenced = Assert.Throws<AuditStoreFencedException>(() => store.BeginAppend(0));

        Assert.Contains("holds 1 records", fenced.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_TwoWritersAtOnce_MigrateOnce()
    {
        var database = await NewDatabaseAsync();
        var connectionString = postgres.Server.ConnectionString(database);

        var stores = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => PostgresAuditStore.Open(connectionString))));

        try
        {
            Assert.All(stores, s => Assert.Equal(0, s.Count()));
        }
        finally
        {
            foreach (var store in stores)
            {
                store.Dispose();
            }
        }
    }

    [Fact]
    public async Task RecordTables_WriterRoleUpdateDeleteOrTruncate_RefusedByGrants()
    {
        var database = await NewDatabaseAsync();
        var owner = postgres.Server.ConnectionString(database);
        using (var store = OpenAsSequencer(owner))
        {
            AppendOne(store, "a");
            store.AddCheckpoint(1, new byte[32], "note", DateTimeOffset.UtcNow);
        }

        await postgres.Server.ExecuteAsync(database, $"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{WriterRole}') THEN CREATE ROLE {WriterRole} LOGIN; END IF; END $$;");
        PostgresAuditStore.GrantRuntimeRole(owner, WriterRole);
        await using var writer = new NpgsqlConnection(postgres.Server.ConnectionString(database, WriterRole));
        await writer.OpenAsync();

        foreach (var sql in new[]
        {
            "UPDATE audit_records SET tenant = 'forged'",
            "UPDATE audit_records SET leaf = '\\x00'::bytea WHERE idx = 0",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
            "UPDATE audit_checkpoints SET note = 'forged'",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_subjects SET wrapped_key = '\\x00'::bytea",
            "UPDATE audit_erasures SET erased_ms = 0",
            "DELETE FROM audit_erasures",
            "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only",
        })
        {
            await using var command = new NpgsqlCommand(sql, writer);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {refused.SqlState} {refused.MessageText}");
        }

        // What the writer may do: read, append, and delete key material (erasure).
        await using (var delete = new NpgsqlCommand("DELETE FROM audit_subjects", writer))
        {
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }

        using var asWriter = PostgresAuditStore.Open(postgres.Server.ConnectionString(database, WriterRole));
        Assert.True(asWriter.Lease.TryAcquire());
        AppendOne(asWriter, "b", subjectBlind: 2);
        Assert.Equal(1, asWriter.EraseSubject([2], null, "acme", DateTimeOffset.UtcNow));
        Assert.Equal(2, asWriter.Count());
        Assert.Equal("acme", Assert.Single(asWriter.Query(new RecordQuery { Id = "a" })).Tenant);
    }

    [Fact]
    public async Task RecordTables_OwnerUpdateDeleteOrTruncate_RefusedByTriggers()
    {
        var database = await NewDatabaseAsync();
        var owner = postgres.Server.ConnectionString(database);
        using (var store = OpenAsSequencer(owner))
        {
            AppendOne(store, "a");
            store.AddCheckpoint(1, new byte[32], "note", DateTimeOffset.UtcNow);
            store.EraseSubject([7], null, null, DateTimeOffset.UtcNow);
        }

        await using var connection = new NpgsqlConnection(owner);
        await connection.OpenAsync();
        foreach (var sql in new[]
        {
            "UPDATE audit_erasures SET erased_ms = 0",
            "DELETE FROM audit_erasures",
            "TRUNCATE audit_erasures",
            "UPDATE audit_records SET tenant = 'forged'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
            "UPDATE audit_checkpoints SET note = 'forged'",
            "DELETE FROM audit_checkpoints",
            "TRUNCATE audit_checkpoints",
        })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", refused.MessageText, StringComparison.Ordinal);
        }

        await using var count = new NpgsqlCommand("SELECT count(*) FROM audit_records WHERE tenant = 'acme'", connection);
        Assert.Equal(1L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task EraseSubject_KeyDeleted_RecordsStayAndNoLongerMatchThePrincipal()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));
        AppendOne(store, "a", subjectBlind: 1);
        AppendOne(store, "b", subjectBlind: 2);
        AppendOne(store, "c", subjectBlind: 1);
        var before = store.Query(new RecordQuery { Principal = "p", PrincipalBlind = [1] });

        var erased = store.EraseSubject([1], "p", tenant: null, DateTimeOffset.UtcNow);

        Assert.Equal(["c", "a"], before.Select(r => r.Id));
        Assert.All(before, r => Assert.NotNull(r.SubjectId));
        Assert.Equal(2, erased);
        Assert.Empty(store.Query(new RecordQuery { Principal = "p", PrincipalBlind = [1] }));
        Assert.Null(store.SubjectKey(before[0].SubjectId!.Value));
        var all = store.Query(new RecordQuery());
        Assert.Equal(3, all.Count);
        Assert.All(all, r => Assert.False(r.Pruned));
        Assert.Equal([true, false, true], all.Select(r => r.SubjectId is null));
    }

    [Fact]
    public async Task EraseSubject_TenantScopeOrAllTenants_TombstoneAnswersForItsScopeAlsoInAnotherStore()
    {
        var connectionString = postgres.Server.ConnectionString(await NewDatabaseAsync());
        var first = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        using (var store = OpenAsSequencer(connectionString))
        {
            using (var batch = store.BeginAppend(0))
            {
                // Looked up (and cached) before the erasure: the erasure must not leave this answer behind.
                Assert.Null(batch.ErasedAt([1], "acme"));
            }

            store.EraseSubject([1], "alice", "acme", first);
            store.EraseSubject([2], null, null, first);
            store.EraseSubject([2], null, "globex", first.AddSeconds(5));
            using (var batch = store.BeginAppend(0))
            {
                Assert.Equal(first, batch.ErasedAt([1], "acme"));
            }
        }

        using var restarted = OpenAsSequencer(connectionString);
        using var again = restarted.BeginAppend(0);

        Assert.Equal(first, again.ErasedAt([1], "acme"));
        Assert.Null(again.ErasedAt([1], "globex"));
        Assert.Null(again.ErasedAt([3], "acme"));
        Assert.Equal(first, again.ErasedAt([2], "acme"));
        Assert.Equal(first.AddSeconds(5), again.ErasedAt([2], "globex"));
    }

    [Fact]
    public async Task Open_SchemaVersion2Store_MigratesToTombstonesAndKeepsItsRecords()
    {
        var database = await NewDatabaseAsync();
        var connectionString = postgres.Server.ConnectionString(database);
        using (var store = OpenAsSequencer(connectionString))
        {
            AppendOne(store, "a");
        }

        // A store as schema version 2 left it: no tombstone table.
        await postgres.Server.ExecuteAsync(database, "DROP TABLE audit_erasures; DELETE FROM audit_schema WHERE version = 3;");

        using var migrated = OpenAsSequencer(connectionString);
        Assert.Equal(1, migrated.EraseSubject([1], null, null, DateTimeOffset.UtcNow));
        using var batch = migrated.BeginAppend(1);
        Assert.NotNull(batch.ErasedAt([1], "acme"));
        Assert.Equal(1, migrated.Count());
    }

    [Fact]
    public async Task PruneBefore_SubjectsPastRetention_KeysShreddedBodiesKept()
    {
        var database = await NewDatabaseAsync();
        using var store = OpenAsSequencer(postgres.Server.ConnectionString(database));
        AppendOne(store, "old", subjectBlind: 1);
        var cutoff = DateTimeOffset.UtcNow.AddSeconds(1);
        await Task.Delay(1100);
        AppendOne(store, "new", subjectBlind: 2);

        var unreadable = store.PruneBefore(cutoff, tenant: null, excludedTenants: [], limit: 100);

        Assert.Equal(1, unreadable);
        Assert.Equal(1, store.DeleteUnusedSubjects());
        Assert.Equal(0, store.DeleteUnusedSubjects());
        var records = store.Query(new RecordQuery { Ascending = true });
        Assert.Equal(["old", "new"], records.Select(r => r.Id));
        Assert.All(records, r => Assert.NotEmpty(r.Leaf));
        Assert.Null(records[0].SubjectId);
        Assert.NotNull(records[1].SubjectId);
        Assert.Equal(0, store.PruneBefore(cutoff, "acme", [], 100));
    }
}
