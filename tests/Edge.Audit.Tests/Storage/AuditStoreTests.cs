using Edge.Audit.Records;
using Edge.Audit.Storage;
using Microsoft.Data.Sqlite;

namespace Edge.Audit.Tests.Storage;

public sealed class AuditStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-audit-store-").FullName;

    public static PendingLeaf Leaf(string id, string tenant = "acme")
    {
        var bytes = AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id, Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = tenant, Decision = "allow", Route = "orders",
        });
        return new PendingLeaf(bytes, LeafSummary.TryParse(bytes, out _)!);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Open_NewStore_CreatedOwnerAndGroupOnlyWithItsWalAlike()
    {
        // Left to SQLite the store took the umask (0644): every route, path and tenant readable by any local user.
        var path = Path.Combine(_directory, "new.db");

        using (var store = AuditStore.Open(path))
        {
            store.Append([Leaf("a")], 0);
            Assert.True(File.Exists(path + "-wal"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path + "-wal"));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Open_ExistingFile_KeepsItsMode()
    {
        var path = Path.Combine(_directory, "kept.db");
        File.WriteAllBytes(path, []);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using (AuditStore.Open(path))
        {
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Append_DuplicateRecordId_IsStoredOnce()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));

        var first = store.Append([Leaf("a"), Leaf("b"), Leaf("a")], 0);
        var second = store.Append([Leaf("b"), Leaf("c")], first.Count);

        Assert.Equal(2, first.Count);
        Assert.Single(second);
        Assert.Equal(3, store.Count());
        Assert.Equal(["c", "b", "a"], store.Query(new RecordQuery()).Select(r => r.Id));
    }

    [Fact]
    public void Add_StatementFails_ThrowsRollsBackAndLaterBatchesStoreEveryField()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        store.Append([Leaf("a")], 0);

        // A stale next index collides with the stored record's index: the insert fails inside SQLite.
        using (var stale = store.BeginAppend(0))
        {
            var failure = Assert.Throws<SqliteException>(() => stale.Add(Leaf("b")));
            Assert.Equal(19, failure.SqliteErrorCode); // SQLITE_CONSTRAINT
        }

        var tenantless = Leaf("c", tenant: "globex");
        var stored = store.Append([Leaf("b"), tenantless with { SubjectId = null }], 1);

        Assert.Equal(2, stored.Count);
        var records = store.Query(new RecordQuery { Ascending = true });
        Assert.Equal(["a", "b", "c"], records.Select(r => r.Id));
        var c = records[2];
        Assert.Equal((2L, "globex", "orders", "allow", (string?)null, (string?)null), (c.Index, c.Tenant, c.Route, c.Decision, c.Reason, c.Principal));
        Assert.Equal(tenantless.Bytes, c.Leaf);
        Assert.Equal(tenantless.Hash, c.LeafHash);
        Assert.Equal(tenantless.Summary.Time.ToUnixTimeMilliseconds(), c.Time.ToUnixTimeMilliseconds());
    }

    [Fact]
    public void BeginAppend_DisposedWithoutCommit_LeavesNeitherRecordsNorSubjects()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        using (var batch = store.BeginAppend(0))
        {
            var subject = batch.GetOrCreateSubject([1, 2, 3], "acme", () => [9, 9], DateTimeOffset.UtcNow);
            Assert.True(batch.Add(Leaf("a") with { SubjectId = subject.Id }));
            Assert.True(batch.Contains("a"));
        }

        using (var batch = store.BeginAppend(0))
        {
            var created = false;
            var subject = batch.GetOrCreateSubject([1, 2, 3], "acme", () => { created = true; return [7, 7]; }, DateTimeOffset.UtcNow);
            Assert.True(created);
            Assert.Equal([7, 7], subject.WrappedKey);
            Assert.False(batch.Contains("a"));
            Assert.True(batch.Add(Leaf("b") with { SubjectId = subject.Id }));
            batch.Commit();
            Assert.Single(batch.Appended);
        }

        Assert.Equal(1, store.Count());
        Assert.Equal(["b"], store.Query(new RecordQuery()).Select(r => r.Id));
    }

    [Fact]
    public void StoredOf_IdsWithQuotesBackslashesAndUnicode_ReturnsExactlyTheStoredOnes()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        string[] stored = ["plain", "with \"quote\"", "back\\slash", "ünïcødé-😀", "[\"a\"]"];
        store.Append(stored.Select(id => Leaf(id)).ToList(), 0);
        using var batch = store.BeginAppend(stored.Length);
        Assert.True(batch.Add(Leaf("added-in-this-batch")));

        var found = batch.StoredOf([.. stored, "missing", "with \"quote", "added-in-this-batch", "PLAIN"]);
        var none = batch.StoredOf([]);

        Assert.Equal(stored.Append("added-in-this-batch").Order(StringComparer.Ordinal), found.Order(StringComparer.Ordinal));
        Assert.Empty(none);
    }

    [Fact]
    public void Update_OrDeleteOfRecord_IsRefusedByTrigger()
    {
        var path = Path.Combine(_directory, "audit.db");
        using var store = AuditStore.Open(path);
        store.Append([Leaf("a")], 0);

        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var update = connection.CreateCommand();
        update.CommandText = "UPDATE records SET decision = 'deny'";
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => update.ExecuteNonQuery()).Message, StringComparison.Ordinal);
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM records";
        Assert.Contains("append-only", Assert.Throws<SqliteException>(() => delete.ExecuteNonQuery()).Message, StringComparison.Ordinal);
        Assert.Equal(1, store.Count());
    }

    [Fact]
    public void Query_TenantFilterAndCursor_PagesNewestFirst()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        store.Append(Enumerable.Range(0, 10).Select(i => Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList(), 0);

        var page1 = store.Query(new RecordQuery { Tenant = "acme", Limit = 3 });
        var page2 = store.Query(new RecordQuery { Tenant = "acme", Limit = 3, Before = page1[^1].Index });

        Assert.Equal([8L, 6, 4], page1.Select(r => r.Index));
        Assert.Equal([2L, 0], page2.Select(r => r.Index));
    }

    [Fact]
    public void Query_MaxLeafBytes_StopsAfterTheRowThatCrossesIt()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        var leaves = Enumerable.Range(0, 10).Select(i => Leaf($"r{i}")).ToList();
        store.Append(leaves, 0);

        AssertQueriesStopAfterTheRowThatCrossesMaxLeafBytes(store, leaves[0].Bytes.Length);
    }

    /// <summary>For a store holding ten leaves of about <paramref name="leafBytes"/> each (indexes 0-9), either store type.</summary>
    internal static void AssertQueriesStopAfterTheRowThatCrossesMaxLeafBytes(IAuditStore store, int leafBytes)
    {
        var cut = store.Query(new RecordQuery { Limit = 10, MaxLeafBytes = (leafBytes * 5 / 2) + 1 });
        var ascending = store.Query(new RecordQuery { Limit = 10, Ascending = true, MaxLeafBytes = 0 });
        var unbounded = store.Query(new RecordQuery { Limit = 10 });

        Assert.Equal([9L, 8, 7], cut.Select(r => r.Index));
        Assert.Equal([0L], ascending.Select(r => r.Index));
        Assert.Equal(10, unbounded.Count);
    }

    [Fact]
    public void Query_TimeWindowsWithOutOfOrderTimes_MatchAReferenceFilterWhicheverPlanIsChosen()
    {
        // Times mostly rise with the index but jump back now and then (a late edge), so index order is not time order.
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var times = Enumerable.Range(0, 400).Select(i => start.AddSeconds(i % 37 == 0 ? i / 2 : i)).ToList();
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        store.Append([.. times.Select((time, i) => TimedLeaf($"r{i}", time))], 0);
        var all = times.Select((time, i) => (Index: (long)i, Time: time)).ToList();

        foreach (var (from, to) in new (int?, int?)[] { (0, 400), (10, 20), (350, null), (null, 30), (100, 390), (0, 5), (395, 400) })
        {
            foreach (var cursor in new long?[] { null, 50, 200, 390 })
            {
                foreach (var ascending in new[] { false, true })
                {
                    var query = new RecordQuery
                    {
                        From = from is { } f ? start.AddSeconds(f) : null,
                        To = to is { } t ? start.AddSeconds(t) : null,
                        Ascending = ascending,
                        Before = ascending ? null : cursor,
                        After = ascending ? cursor : null,
                        Limit = 25,
                    };
                    var matching = all.Where(r => (query.From is null || r.Time >= query.From) && (query.To is null || r.Time < query.To)
                        && (cursor is null || (ascending ? r.Index > cursor : r.Index < cursor)));
                    var expected = (ascending ? matching.OrderBy(r => r.Index) : matching.OrderByDescending(r => r.Index)).Take(25).Select(r => r.Index);

                    Assert.Equal(expected, store.Query(query).Select(r => r.Index));
                }
            }
        }
    }

    [Fact]
    public void Query_PrincipalThroughBlindIndex_FindsV1AndV2RecordsFromIndexesWithoutScanningTheTable()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        var (alice, bob) = CreateAliceAndBob(store);

        // v2 records keep no plaintext principal; one older v1 record of alice has it in plaintext.
        var leaves = Enumerable.Range(0, 300).Select(i =>
        {
            var leaf = Leaf($"r{i}");
            return leaf with { Summary = leaf.Summary with { Principal = null }, SubjectId = i % 50 == 0 ? alice.Id : bob.Id };
        }).ToList();
        var v1 = Leaf("v1-alice");
        leaves.Insert(0, v1 with { Summary = v1.Summary with { Principal = "alice" } });
        store.Append(leaves, 0);
        // With statistics (an operator's ANALYZE or PRAGMA optimize) an OR of the two lookups was planned as a table scan.
        Analyze(Path.Combine(_directory, "audit.db"));

        var query = new RecordQuery { Principal = "alice", PrincipalBlind = Blind("alice"), Limit = 100 };

        var found = store.Query(query).Select(r => r.Id).ToList();
        var plan = store.ExplainQuery(query);

        Assert.Equal(["r250", "r200", "r150", "r100", "r50", "r0", "v1-alice"], found);
        // "SCAN r" walks every record until the page is full: 180-280 ms for one principal in a 1M-record store with statistics.
        Assert.DoesNotContain(plan, step => step.StartsWith("SCAN ", StringComparison.Ordinal));
    }

    [Fact]
    public void Query_ReasonFilters_UseThePartialIndexesWithoutScanningTheTable()
    {
        var path = Path.Combine(_directory, "audit.db");
        using var store = AuditStore.Open(path);
        AppendTwoTenantsEveryTenthDenied(store);
        Analyze(path);

        var byReason = new RecordQuery { Reason = "forbidden", Limit = 100 };
        var byTenantReason = new RecordQuery { Tenant = "acme", Reason = "forbidden", Limit = 100 };

        Assert.Equal(30, store.Query(byReason).Count);
        Assert.Equal(15, store.Query(byTenantReason).Count);
        Assert.All(store.Query(byTenantReason), r => Assert.Equal(("acme", "forbidden"), (r.Tenant, r.Reason)));
        Assert.DoesNotContain(store.ExplainQuery(byReason), step => step.StartsWith("SCAN ", StringComparison.Ordinal));
        Assert.DoesNotContain(store.ExplainQuery(byTenantReason), step => step.StartsWith("SCAN ", StringComparison.Ordinal));
    }

    [Fact]
    public void Query_DecisionFilters_FindTheSameRecordsAndUseThePartialIndexesForDenials()
    {
        var path = Path.Combine(_directory, "audit.db");
        using var store = AuditStore.Open(path);
        AppendTwoTenantsEveryTenthDenied(store);
        Analyze(path);

        var denied = new RecordQuery { Decision = "deny", Limit = 500 };
        var tenantDenied = new RecordQuery { Tenant = "acme", Decision = "deny", Limit = 500 };
        var allowed = new RecordQuery { Decision = "allow", Limit = 500 };
        var tenantAllowed = new RecordQuery { Tenant = "acme", Decision = "allow", Limit = 500 };

        Assert.Equal(30, store.Query(denied).Count);
        Assert.Equal(15, store.Query(tenantDenied).Count);
        Assert.Equal(270, store.Query(allowed).Count);
        Assert.Equal(135, store.Query(tenantAllowed).Count);
        Assert.All(store.Query(tenantDenied), r => Assert.Equal(("acme", "deny"), (r.Tenant, r.Decision)));
        Assert.All(store.Query(tenantAllowed), r => Assert.Equal(("acme", "allow"), (r.Tenant, r.Decision)));
        // Newest first by index, as without the partial indexes.
        Assert.Equal(["r290", "r280", "r270"], store.Query(denied with { Limit = 3 }).Select(r => r.Id));
        Assert.Equal(["r299", "r298", "r297"], store.Query(allowed with { Limit = 3 }).Select(r => r.Id));
        Assert.DoesNotContain(store.ExplainQuery(denied), step => step.StartsWith("SCAN ", StringComparison.Ordinal));
        Assert.DoesNotContain(store.ExplainQuery(tenantDenied), step => step.StartsWith("SCAN ", StringComparison.Ordinal));
        Assert.DoesNotContain(store.ExplainQuery(tenantAllowed), step => step.StartsWith("SCAN ", StringComparison.Ordinal));
    }

    [Fact]
    public void Open_StoreWithTheFullDecisionIndexes_ReplacesThemWithPartialOnesAndKeepsResults()
    {
        var path = Path.Combine(_directory, "audit.db");
        using (var store = AuditStore.Open(path))
        {
            store.Append(Enumerable.Range(0, 20).Select(i =>
            {
                var leaf = Leaf($"r{i}");
                return i % 4 == 0 ? leaf with { Summary = leaf.Summary with { Decision = "deny" } } : leaf;
            }).ToList(), 0);
        }

        // A store written by an earlier writer: full decision indexes, no partial ones.
        Execute(path, """
            DROP INDEX ix_records_tenant_decision_set;
            DROP INDEX ix_records_decision_set;
            CREATE INDEX ix_records_tenant_decision ON records (tenant, decision, idx);
            CREATE INDEX ix_records_decision ON records (decision, idx);
            """);
        SqliteConnection.ClearAllPools();

        using var reopened = AuditStore.Open(path);

        var indexes = IndexNames(path);
        Assert.Contains("ix_records_tenant_decision_set", indexes);
        Assert.Contains("ix_records_decision_set", indexes);
        Assert.DoesNotContain("ix_records_tenant_decision", indexes);
        Assert.DoesNotContain("ix_records_decision", indexes);
        Assert.Equal(5, reopened.Query(new RecordQuery { Tenant = "acme", Decision = "deny", Limit = 100 }).Count);
        Assert.Equal(15, reopened.Query(new RecordQuery { Decision = "allow", Limit = 100 }).Count);
    }

    /// <summary>300 records in blocks of ten alternating between acme and globex; every tenth denied (forbidden), the rest allowed.</summary>
    private static void AppendTwoTenantsEveryTenthDenied(AuditStore store)
    {
        var leaves = Enumerable.Range(0, 300).Select(i =>
        {
            var leaf = Leaf($"r{i}", i / 10 % 2 == 0 ? "acme" : "globex");
            return i % 10 == 0 ? leaf with { Summary = leaf.Summary with { Decision = "deny", Reason = "forbidden" } } : leaf;
        }).ToList();
        store.Append(leaves, 0);
    }

    // Statistics as an operator's ANALYZE or PRAGMA optimize leaves them: the planner then weighs indexes by them.
    private static void Analyze(string path) => Execute(path, "ANALYZE");

    private static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static List<string> IndexNames(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    [Fact]
    public void Append_LinksOnBothSidesOfTheRecentMove_QueriesErasureAndPruneSeeEveryLink()
    {
        var path = Path.Combine(_directory, "audit.db");
        using var store = AuditStore.Open(path);
        store.RecentLinksMergeAt = 100;
        var (alice, bob) = CreateAliceAndBob(store);

        var old = DateTimeOffset.UtcNow.AddDays(-10);
        var next = 0L;
        for (var batch = 0; batch < 5; batch++)
        {
            // Batches of 70: the move happens after the second and the fourth, so links sit in both tables.
            var leaves = Enumerable.Range(batch * 70, 70).Select(i =>
            {
                var leaf = i < 35 ? TimedLeaf($"r{i}", old) : Leaf($"r{i}");
                return leaf with { Summary = leaf.Summary with { Principal = null }, SubjectId = i % 7 == 0 ? alice.Id : bob.Id };
            }).ToList();
            next += store.Append(leaves, next).Count;
        }

        Assert.Equal((280L, 70L), (LinkCount(path, "record_subjects"), LinkCount(path, "recent_record_subjects")));
        var all = store.Query(new RecordQuery { Limit = 1000 });
        Assert.All(all, r => Assert.Equal(int.Parse(r.Id[1..], System.Globalization.CultureInfo.InvariantCulture) % 7 == 0 ? alice.Id : bob.Id, r.SubjectId));
        var aliceQuery = new RecordQuery { Principal = "alice", PrincipalBlind = Blind("alice"), Limit = 1000 };
        Assert.Equal(Enumerable.Range(0, 350).Where(i => i % 7 == 0).Reverse().Select(i => $"r{i}"), store.Query(aliceQuery).Select(r => r.Id));

        // Retention prunes the 35 old records and drops their links, wherever they are.
        Assert.Equal(35, store.PruneBefore(DateTimeOffset.UtcNow.AddDays(-1), null, [], 1000));
        Assert.Equal(315L, LinkCount(path, "record_subjects") + LinkCount(path, "recent_record_subjects"));

        // Erasure reaches alice's records in both tables: 50 of them, 5 already pruned.
        Assert.Equal(45, store.EraseSubject(Blind("alice"), "alice", "acme", DateTimeOffset.UtcNow));
        Assert.Empty(store.Query(aliceQuery));
        Assert.All(store.Query(new RecordQuery { Limit = 1000 }), r => Assert.NotEqual(alice.Id, r.SubjectId));
        Assert.Equal(270L, LinkCount(path, "record_subjects") + LinkCount(path, "recent_record_subjects"));
        Assert.Equal(0, store.DeleteUnusedSubjects());
    }

    [Fact]
    public void EraseSubject_TenantScopeOrAllTenants_TombstoneAnswersForItsScopeAndSurvivesReopen()
    {
        var path = Path.Combine(_directory, "audit.db");
        var first = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        using (var store = AuditStore.Open(path))
        {
            store.EraseSubject(Blind("alice"), "alice", "acme", first);
            store.EraseSubject(Blind("bob"), "bob", null, first);
            store.EraseSubject(Blind("bob"), "bob", "globex", first.AddSeconds(5));
        }

        using var reopened = AuditStore.Open(path);
        using var batch = reopened.BeginAppend(0);

        Assert.Equal(first, batch.ErasedAt(Blind("alice"), "acme"));
        Assert.Null(batch.ErasedAt(Blind("alice"), "globex"));
        Assert.Null(batch.ErasedAt(Blind("carol"), "acme"));
        Assert.Equal(first, batch.ErasedAt(Blind("bob"), "acme"));
        Assert.Equal(first.AddSeconds(5), batch.ErasedAt(Blind("bob"), "globex"));
        Assert.Equal(first, batch.ErasedAt(Blind("bob"), ""));
    }

    [Fact]
    public void Open_StoreFromBeforeTombstones_GetsTheTableAndRefusesChangingATombstone()
    {
        var path = Path.Combine(_directory, "audit.db");
        using (var store = AuditStore.Open(path))
        {
            store.Append([Leaf("a")], 0);
        }

        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "DROP TABLE erasures";
            drop.ExecuteNonQuery();
        }

        using (var upgraded = AuditStore.Open(path))
        {
            upgraded.EraseSubject(Blind("alice"), "alice", null, DateTimeOffset.UtcNow);
            Assert.Equal(1, upgraded.Count());
        }

        using var direct = new SqliteConnection($"Data Source={path};Pooling=False");
        direct.Open();
        foreach (var sql in new[] { "DELETE FROM erasures", "UPDATE erasures SET erased_ms = 0" })
        {
            using var command = direct.CreateCommand();
            command.CommandText = sql;
            var refused = Assert.Throws<SqliteException>(() => command.ExecuteNonQuery());
            Assert.Contains("append-only", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DeleteUnusedSubjects_SubjectLinkedOnlyFromRecentLinks_IsKept()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        StoredSubject linked, unused;
        using (var batch = store.BeginAppend(0))
        {
            linked = batch.GetOrCreateSubject([1], "acme", () => [1, 2, 3], DateTimeOffset.UtcNow);
            unused = batch.GetOrCreateSubject([2], "acme", () => [4, 5, 6], DateTimeOffset.UtcNow);
            Assert.True(batch.Add(Leaf("a") with { SubjectId = linked.Id }));
            batch.Commit();
        }

        Assert.Equal(1, store.DeleteUnusedSubjects());
        Assert.NotNull(store.SubjectKey(linked.Id));
        Assert.Null(store.SubjectKey(unused.Id));
    }

    [Fact]
    public void OpenReadOnly_StoreWrittenBeforeRecentLinks_ReadsItsLinks()
    {
        var path = Path.Combine(_directory, "audit.db");
        byte[] blind = [7, 7, 7];
        using (var store = AuditStore.Open(path))
        {
            store.RecentLinksMergeAt = 1;
            using var batch = store.BeginAppend(0);
            var subject = batch.GetOrCreateSubject(blind, "acme", () => [1, 2, 3], DateTimeOffset.UtcNow);
            Assert.True(batch.Add(Leaf("a") with { Summary = Leaf("a").Summary with { Principal = null }, SubjectId = subject.Id }));
            batch.Commit();
        }

        // What an older writer left: no recent_record_subjects table at all.
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "DROP TABLE recent_record_subjects";
            drop.ExecuteNonQuery();
        }

        SqliteConnection.ClearAllPools();
        using var readOnly = AuditStore.OpenReadOnly(path);

        var found = readOnly.Query(new RecordQuery { Principal = "nobody", PrincipalBlind = blind });

        Assert.Equal(["a"], found.Select(r => r.Id));
        Assert.NotNull(found[0].SubjectId);
    }

    private static long LinkCount(string path, string table)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public void Add_IdsStoredOfFoundAbsent_StoresTheSameRowsAndLinksAsAddingOneAtATime()
    {
        // Ids StoredOf found absent go in by the multi-row insert; the rows must be those the one-row insert stores.
        var chunked = AuditStore.Open(Path.Combine(_directory, "chunked.db"));
        var single = AuditStore.Open(Path.Combine(_directory, "single.db"));
        using (chunked)
        using (single)
        {
            var (alice, bob) = CreateAliceAndBob(chunked);
            var (singleAlice, singleBob) = CreateAliceAndBob(single);
            Assert.Equal((alice.Id, bob.Id), (singleAlice.Id, singleBob.Id));
            var storedBefore = Leaf("stored-before");
            chunked.Append([storedBefore], 0);
            single.Append([storedBefore], 0);

            // 2.5 times the rows of one insert: two full inserts and a remainder; every third record has no subject,
            // so the links fill their inserts at other records than the rows do.
            var leaves = Enumerable.Range(0, (AuditStore.RowsPerInsert * 5 / 2) + 1).Select(i =>
            {
                var leaf = i % 5 == 0 ? TimedLeaf($"r{i}", DateTimeOffset.UtcNow.AddSeconds(-i)) : Leaf($"r{i}", tenant: i % 2 == 0 ? "acme" : "globex");
                return leaf with { SubjectId = i % 3 == 0 ? null : i % 2 == 0 ? alice.Id : bob.Id };
            }).ToList();
            leaves.Insert(7, storedBefore);
            leaves.Insert(40, leaves[4]);

            bool[] added;
            IReadOnlyList<byte[]> appended;
            using (var batch = chunked.BeginAppend(1))
            {
                var stored = batch.StoredOf(leaves.Select(l => l.Summary.Id).ToList());
                Assert.Equal(["stored-before"], stored);
                added = leaves.Select(batch.Add).ToArray();
                Assert.True(batch.Contains("r4"));
                batch.Commit();
                appended = batch.Appended;
            }

            var reference = single.Append(leaves, 1);

            Assert.Equal(leaves.Count - 2, added.Count(a => a));
            Assert.False(added[7]);
            Assert.False(added[40]);
            Assert.Equal(reference, appended);
            Assert.Equal(Rows(single.Path, "SELECT * FROM records ORDER BY idx"), Rows(chunked.Path, "SELECT * FROM records ORDER BY idx"));
            Assert.Equal(Rows(single.Path, "SELECT * FROM recent_record_subjects ORDER BY idx"), Rows(chunked.Path, "SELECT * FROM recent_record_subjects ORDER BY idx"));
            Assert.Equal(leaves.Count(l => l.SubjectId is not null) - 1, Rows(chunked.Path, "SELECT * FROM recent_record_subjects").Count);
        }
    }

    [Fact]
    public void Add_QueuedRecordsWithAStaleIndex_ThrowsAndStoresNoneOfTheBatch()
    {
        using var store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
        store.Append([Leaf("a")], 0);
        var leaves = Enumerable.Range(0, AuditStore.RowsPerInsert).Select(i => Leaf($"b{i}")).ToList();

        // A stale next index: the first queued record collides with the stored one inside the multi-row insert, which
        // must not skip it silently (that would shift every later record's index away from its leaf hash).
        var failure = Assert.Throws<SqliteException>(() =>
        {
            using var stale = store.BeginAppend(0);
            Assert.Empty(stale.StoredOf(leaves.Select(l => l.Summary.Id).ToList()));
            foreach (var leaf in leaves)
            {
                stale.Add(leaf);
            }

            stale.Commit();
        });

        Assert.Equal(19, failure.SqliteErrorCode); // SQLITE_CONSTRAINT
        Assert.Equal(["a"], store.Query(new RecordQuery()).Select(r => r.Id));

        // The same records at the right index go in.
        using (var batch = store.BeginAppend(1))
        {
            Assert.Empty(batch.StoredOf(leaves.Select(l => l.Summary.Id).ToList()));
            Assert.All(leaves, leaf => Assert.True(batch.Add(leaf)));
            batch.Commit();
        }

        Assert.Equal(Enumerable.Range(1, leaves.Count).Select(i => (long)i), store.Query(new RecordQuery { Ascending = true, Limit = 100 }).Skip(1).Select(r => r.Index));
    }

    private static List<string> Rows(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            var values = new object[reader.FieldCount];
            reader.GetValues(values);
            rows.Add(string.Join("|", values.Select(v => v is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Fact]
    public void PruneBefore_RecordsAroundTheCutoff_OnlyThoseOlderThanItArePruned()
    {
        // Retention prunes records "older than" the span: one made exactly at the cutoff keeps its body.
        var cutoff = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
        using var store = AuditStore.Open(Path.Combine(_directory, "boundary.db"));
        store.Append(
        [
            TimedLeaf("1ms-before", cutoff.AddMilliseconds(-1)),
            TimedLeaf("half-ms-before", cutoff.AddTicks(-5000)),
            TimedLeaf("at", cutoff),
            TimedLeaf("half-ms-after", cutoff.AddTicks(5000)),
            TimedLeaf("1ms-after", cutoff.AddMilliseconds(1)),
        ], 0);

        var pruned = store.PruneBefore(cutoff, null, [], 100);

        Assert.Equal(2, pruned);
        Assert.Equal(
            ["1ms-after:False", "half-ms-after:False", "at:False", "half-ms-before:True", "1ms-before:True"],
            store.Query(new RecordQuery { Limit = 10 }).Select(r => $"{r.Id}:{r.Pruned}"));
    }

    private static PendingLeaf TimedLeaf(string id, DateTimeOffset time)
    {
        var bytes = AuditRecordSerializer.Serialize(new AuditRecord { Id = id, Time = time, Instance = "edge-test", Tenant = "acme", Decision = "allow" });
        return new PendingLeaf(bytes, LeafSummary.TryParse(bytes, out _)!);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static byte[] Blind(string principal) => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(principal));

    /// <summary>Two subjects of tenant acme, alice and bob, keyed by the SHA-256 of their names as blind index.</summary>
    private static (StoredSubject Alice, StoredSubject Bob) CreateAliceAndBob(AuditStore store)
    {
        using var subjects = store.BeginAppend(0);
        var alice = subjects.GetOrCreateSubject(Blind("alice"), "acme", () => [1, 2, 3], DateTimeOffset.UtcNow);
        var bob = subjects.GetOrCreateSubject(Blind("bob"), "acme", () => [4, 5, 6], DateTimeOffset.UtcNow);
        subjects.Commit();
        return (alice, bob);
    }
}
