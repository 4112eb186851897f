using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Edge.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Edge.AuditWriter.Tests.Log;

/// <summary>The writer's contract on a real PostgreSQL, and two writers sharing it (one sequences, one stands by).</summary>
public sealed class PostgresWriterTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const string Erased = "erin.erasable@example.test";
    private const string Kept = "kim.kept@example.test";

    private async Task<string> NewStoreAsync() => postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync());

    private static Task<WriterFixture> StartWriterAsync(string connectionString, WriterFixture? sharingKeysWith = null) =>
        WriterFixture.StartAsync(extraArgs:
        [
            $"--Writer:Postgres={connectionString}",
            "--Writer:LeaseInterval=00:00:00.250",
            .. sharingKeysWith is null ? Array.Empty<string>() :
            [
                // Every writer of one log signs with the same key and wraps data keys under the same subject master key.
                $"--Writer:KeyPath={sharingKeysWith.KeyPath}",
                $"--Writer:SubjectKeyPath={Path.Combine(sharingKeysWith.Directory, "keys", "subject.key")}",
            ],
        ]);

    private static async Task<string> RoleAsync(WriterFixture writer)
    {
        using var client = writer.Client();
        return JsonDocument.Parse(await client.GetStringAsync("/readyz")).RootElement.GetProperty("role").GetString()!;
    }

    private static async Task WaitForRoleAsync(WriterFixture writer, string role, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (await RoleAsync(writer) != role)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the writer did not become {role} within {within}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Ingest_OnPostgres_StoresOnceAndEveryProofVerifies()
    {
        var store = await NewStoreAsync();
        await using var writer = await StartWriterAsync(store);
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        var leaves = Enumerable.Range(0, 20).Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList();

        (await writer.IngestAsync(leaves[..12], 12)).EnsureSuccessStatusCode();
        var before = await writer.WaitForCheckpointAsync(12);
        using var replay = await writer.IngestAsync(leaves, 20);
        var after = await writer.WaitForCheckpointAsync(20);

        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var records = await ErasureTests.RecordsAsync(auditor, "");
        Assert.Equal(20, records.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"r{i}").Order(), records.Select(r => r.GetProperty("id").GetString()!).Order());
        var key = NoteVerifier.Parse((await writer.Client().GetStringAsync("/audit/key")).Split('\n')[0]);
        var signedBefore = SignedNote.Open(before, [key]);
        var signedAfter = SignedNote.Open(after, [key]);
        Assert.True(signedBefore.Valid && signedAfter.Valid);
        Assert.True(Rfc9162.VerifyConsistency(12, 20, signedBefore.Checkpoint!.Root, signedAfter.Checkpoint!.Root,
            await ErasureTests.ProofAsync(auditor, "/audit/proof/consistency?from=12&to=20")));
        foreach (var record in records)
        {
            var index = record.GetProperty("index").GetInt64();
            var leafHash = Rfc9162.LeafHash(Convert.FromBase64String(record.GetProperty("leaf").GetString()!));
            Assert.True(Rfc9162.VerifyInclusion(index, 20, leafHash, await ErasureTests.ProofAsync(auditor, $"/audit/proof/inclusion?index={index}&size=20"),
                signedAfter.Checkpoint!.Root));
        }

        // The tlog-tiles read paths on PostgreSQL: the level-0 tile holds the leaf hashes, the entry bundle their bytes.
        var tile = await TileAsync(writer, "/tile/0/000.p/20");
        var bundle = await TileAsync(writer, "/tile/entries/000.p/20");
        var byIndex = records.ToDictionary(r => r.GetProperty("index").GetInt64(), r => Convert.FromBase64String(r.GetProperty("leaf").GetString()!));
        var offset = 0;
        for (var index = 0; index < 20; index++)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(bundle.AsSpan(offset));
            var leaf = bundle.AsSpan(offset + 2, length).ToArray();
            offset += 2 + length;
            Assert.Equal(byIndex[index], leaf);
            Assert.Equal(Rfc9162.LeafHash(leaf), tile.AsSpan(index * 32, 32).ToArray());
        }

        Assert.Equal(bundle.Length, offset);
        using var opened = PostgresAuditStore.OpenReadOnly(store);
        var report = LogVerifier.VerifyStore(opened, [key]);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(20, report.RecordsChecked);
    }

    [Fact]
    public async Task Erase_OnPostgres_PrincipalFoundByBlindIndexThenNowhereReadable()
    {
        var store = await NewStoreAsync();
        await using var writer = await StartWriterAsync(store);
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        var leaves = Enumerable.Range(0, 10)
            .Select(i => ErasureTests.Leaf($"r{i}", "acme", i % 2 == 0 ? Erased : Kept, i % 2 == 0 ? "203.0.113.77" : "198.51.100.23"))
            .ToList();
        (await writer.IngestAsync(leaves, 10)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var found = await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}");

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });

        Assert.Equal(5, found.Count);
        Assert.All(found, r => Assert.Equal(Erased, r.GetProperty("principal").GetString()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        Assert.Empty(await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
        Assert.Equal(5, (await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Kept)}")).Count);
        var r0 = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=r0"));
        Assert.Equal("{\"protection\":\"erased\"}", r0.GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
        Assert.Equal(found.Single(r => r.GetProperty("id").GetString() == "r0").GetProperty("leaf").GetString(), r0.GetProperty("leaf").GetString());

        // Nothing the database returns holds the erased principal: not a record column, not a leaf, not a key row.
        await using var connection = new NpgsqlConnection(store);
        await connection.OpenAsync();
        await using var dump = new NpgsqlCommand(
            """
            SELECT string_agg(x, E'\n') FROM (
                SELECT convert_from(leaf, 'UTF8') || ' ' || r::text AS x FROM audit_records r
                UNION ALL SELECT s::text FROM audit_subjects s
                UNION ALL SELECT c::text FROM audit_checkpoints c) t
            """, connection);
        var everything = (string)(await dump.ExecuteScalarAsync())!;
        Assert.Contains("/orders/7", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Erased, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Kept, everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyStore_SubjectKeyDeletedByHandInTheDatabase_FailsNamingItWhileAnErasedOnePasses()
    {
        var store = await NewStoreAsync();
        await using var writer = await StartWriterAsync(store);
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        (await writer.IngestAsync(Enumerable.Range(0, 4).Select(i => ErasureTests.Leaf($"r{i}", "acme", i % 2 == 0 ? Erased : Kept, "198.51.100.23")), 4))
            .EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        (await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased })).EnsureSuccessStatusCode();
        var erasure = Assert.Single(await ErasureTests.RecordsAsync(dpo, "decision=erased")).GetProperty("record").GetProperty("data").GetProperty("attributes");
        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        VerificationReport erased;
        using (var opened = PostgresAuditStore.OpenReadOnly(store))
        {
            erased = LogVerifier.VerifyStore(opened, [key]);
        }

        // Kim's key deleted in psql (the owner may; the runtime role may too): Kim's records unreadable, as retention leaves
        // them, with no record saying so. Before, verify --postgres reported OK.
        long kimSubject;
        await using (var connection = new NpgsqlConnection(store))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand(
                "DELETE FROM audit_subjects WHERE id = (SELECT subject_id FROM audit_records WHERE record_id = 'r1') RETURNING id", connection);
            kimSubject = (long)(await delete.ExecuteScalarAsync())!;
        }

        using var tampered = PostgresAuditStore.OpenReadOnly(store);
        var report = LogVerifier.VerifyStore(tampered, [key]);

        Assert.Matches("^[0-9]+$", erasure.GetProperty("erasedSubjects").GetString()!);
        Assert.True(erased.Valid, erased.Problem);
        Assert.False(report.Valid);
        Assert.Equal(3, report.FirstBadIndex);
        Assert.Contains($"subject {kimSubject} (records up to index 3) has no data key, but no retention or erasure record names it", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_OnStandby_CountedAsUnavailableNotStored()
    {
        var store = await NewStoreAsync();
        await using var leader = await StartWriterAsync(store);
        await WaitForRoleAsync(leader, "sequencer", TimeSpan.FromSeconds(10));
        await using var standby = await StartWriterAsync(store, sharingKeysWith: leader);
        using var measurements = new WriterMeasurements(standby.Services.GetRequiredService<IMeterFactory>());

        using var refused = await standby.IngestAsync([WriterFixture.Leaf("c", "acme")], 3);

        // writer_standby (its Retry-After wrapper) was counted as stored, so a standby's dashboard showed it storing every
        // batch the edges sent it, and nothing in "unavailable".
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(0, measurements.Sum("edge.audit.ingest.batches", "stored"));
        Assert.Equal(1, measurements.Sum("edge.audit.ingest.batches", "unavailable"));
    }

    [Fact]
    public async Task Ingest_OnStandby_Answers503WriterStandbyWhileStandbyServesReads()
    {
        var store = await NewStoreAsync();
        await using var leader = await StartWriterAsync(store);
        await WaitForRoleAsync(leader, "sequencer", TimeSpan.FromSeconds(10));
        await using var standby = await StartWriterAsync(store, sharingKeysWith: leader);
        (await leader.IngestAsync([WriterFixture.Leaf("a", "acme"), WriterFixture.Leaf("b", "acme")], 2)).EnsureSuccessStatusCode();
        var leaderCheckpoint = await leader.WaitForCheckpointAsync(2);

        using var refused = await standby.IngestAsync([WriterFixture.Leaf("c", "acme")], 3);
        var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        var standbyCheckpoint = await standby.WaitForCheckpointAsync(2);
        using var auditor = standby.Client(WriterFixture.GlobalAuditorKey);

        Assert.Equal("standby", await RoleAsync(standby));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("writer_standby", problem.GetProperty("code").GetString());
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        Assert.Equal(leaderCheckpoint, standbyCheckpoint);
        Assert.Equal(["b", "a"], (await ErasureTests.RecordsAsync(auditor, "")).Select(r => r.GetProperty("id").GetString()));
        Assert.NotEmpty(await ErasureTests.ProofAsync(auditor, "/audit/proof/inclusion?index=0&size=2"));
        using var erasure = await standby.Client(WriterFixture.GlobalEraserKey).PostAsJsonAsync("/audit/erasure", new { subject = "user-a" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, erasure.StatusCode);
        Assert.Contains("writer_standby", await erasure.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(2, (await ErasureTests.RecordsAsync(auditor, "")).Count);
    }

    [Fact]
    public async Task Failover_LeaderLosesItsLease_StandbyTakesOverAndCheckpointsStayConsistent()
    {
        var store = await NewStoreAsync();
        await using var leader = await StartWriterAsync(store);
        await WaitForRoleAsync(leader, "sequencer", TimeSpan.FromSeconds(10));
        await using var standby = await StartWriterAsync(store, sharingKeysWith: leader);
        var first = Enumerable.Range(0, 7).Select(i => WriterFixture.Leaf($"before{i}", "acme")).ToList();
        (await leader.IngestAsync(first, 7)).EnsureSuccessStatusCode();
        var before = await leader.WaitForCheckpointAsync(7);
        using (var refused = await standby.IngestAsync([WriterFixture.Leaf("early", "acme")], 8))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        // The standby follows the log from the stored tiles: it serves the right-edge partial tile the leader serves.
        var leaderTile = await TileAsync(leader, "/tile/0/000.p/7");
        Assert.Equal(7 * 32, leaderTile.Length);
        await WaitForTileAsync(standby, "/tile/0/000.p/7", leaderTile, TimeSpan.FromSeconds(5));

        // PostgreSQL ends the leader's lease session, as when its process dies or the network cuts it off.
        await using (var admin = new NpgsqlConnection(store))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = @lo AND classid::bigint = @hi", admin);
            kill.Parameters.AddWithValue("lo", PostgresWriterLease.Key & 0xFFFF_FFFF);
            kill.Parameters.AddWithValue("hi", PostgresWriterLease.Key >> 32);
            Assert.Equal(true, await kill.ExecuteScalarAsync());
        }

        var started = DateTime.UtcNow;
        await WaitForRoleAsync(standby, "sequencer", TimeSpan.FromSeconds(5));
        var tookOver = DateTime.UtcNow - started;
        using var stale = await leader.IngestAsync([WriterFixture.Leaf("stale", "acme")], 8);
        var second = Enumerable.Range(0, 5).Select(i => WriterFixture.Leaf($"after{i}", "acme")).ToList();
        using var accepted = await standby.IngestAsync([first[3], .. second], 13);
        var after = await standby.WaitForCheckpointAsync(12);

        Assert.True(tookOver < TimeSpan.FromSeconds(5), $"takeover took {tookOver}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stale.StatusCode);
        Assert.Contains("writer_standby", await stale.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var key = NoteVerifier.Parse((await standby.Client().GetStringAsync("/audit/key")).Split('\n')[0]);
        var signedBefore = SignedNote.Open(before, [key]);
        var signedAfter = SignedNote.Open(after, [key]);
        Assert.True(signedBefore.Valid && signedAfter.Valid);
        using var auditor = standby.Client(WriterFixture.GlobalAuditorKey);
        Assert.True(Rfc9162.VerifyConsistency(7, 12, signedBefore.Checkpoint!.Root, signedAfter.Checkpoint!.Root,
            await ErasureTests.ProofAsync(auditor, "/audit/proof/consistency?from=7&to=12")));
        var ids = (await ErasureTests.RecordsAsync(auditor, "")).Select(r => r.GetProperty("id").GetString()!).ToList();
        Assert.Equal(12, ids.Count);
        Assert.Equal(12, ids.Distinct().Count());
        Assert.DoesNotContain("stale", ids);
        Assert.Equal(leaderTile, await TileAsync(standby, "/tile/0/000.p/7"));
        Assert.Equal(12 * 32, (await TileAsync(standby, "/tile/0/000.p/12")).Length);
        using var opened = PostgresAuditStore.OpenReadOnly(store);
        var report = LogVerifier.VerifyStore(opened, [key]);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(12, report.RecordsChecked);
        Assert.Equal(12, opened.TiledSize());
    }

    [Fact]
    public async Task Erase_ByTheOtherWriterWhileThisOneStoodBy_ThisOnesCachedKeyIsNotUsedAfterItSequencesAgain()
    {
        var store = await NewStoreAsync();
        await using var first = await StartWriterAsync(store);
        await WaitForRoleAsync(first, "sequencer", TimeSpan.FromSeconds(10));
        await using var second = await StartWriterAsync(store, sharingKeysWith: first);
        (await first.IngestAsync([ErasureTests.Leaf("c0", "acme", Erased, "203.0.113.77")], 1)).EnsureSuccessStatusCode();
        var firstLog = first.Services.GetRequiredService<AuditLog>();
        var cachedWhileSequencing = firstLog.CachedSubjectKeys;
        var erasedRows = await SubjectIdsAsync(store, firstLog.Keyring.BlindPrincipal(Erased));

        // The second writer takes over (the first's lease session ends) and erases the subject the first has cached.
        await TerminateLeaseHolderAsync(store);
        await WaitForRoleAsync(second, "sequencer", TimeSpan.FromSeconds(5));
        // The first notices on its own next lease check; until then it still reports itself as sequencer.
        await WaitForRoleAsync(first, "standby", TimeSpan.FromSeconds(5));
        using (var erasure = await second.Client(WriterFixture.GlobalEraserKey).PostAsJsonAsync("/audit/erasure", new { subject = Erased }))
        {
            Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        }

        // The second one stops; the first sequences again and gets a record of the erased subject.
        await second.StopAppAsync();
        await WaitForRoleAsync(first, "sequencer", TimeSpan.FromSeconds(10));
        (await first.IngestAsync([ErasureTests.Leaf("c1", "acme", Erased, "203.0.113.77")], 3)).EnsureSuccessStatusCode();

        Assert.Equal(1, cachedWhileSequencing);
        var erasedRow = Assert.Single(erasedRows);
        var newRow = Assert.Single(await SubjectIdsAsync(store, firstLog.Keyring.BlindPrincipal(Erased)));
        Assert.NotEqual(erasedRow, newRow);
        using var dpo = first.Client(WriterFixture.GlobalEraserKey);
        var c1 = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=c1"));
        Assert.Equal(Erased, c1.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("principal").GetString());
        Assert.Equal("{\"protection\":\"erased\"}", Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=c0")).GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
    }

    [Fact]
    public async Task Ingest_OnPostgres_RecordMadeBeforeErasureDeliveredAfterARestart_StoredErasedLaterRecordReadable()
    {
        var store = await NewStoreAsync();
        await using var writer = await StartWriterAsync(store);
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using (var dpo = writer.Client(WriterFixture.GlobalEraserKey))
        {
            await ErasureTombstoneTests.EraseAsync(dpo, new { subject = Erased });
            await ErasureTombstoneTests.EraseAsync(dpo, new { clientIp = "203.0.113.77", tenant = "acme" });
        }

        await writer.StopAppAsync();
        await writer.StartAppAsync();
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        var madeAfter = DateTimeOffset.UtcNow.AddMilliseconds(1);
        (await writer.IngestAsync(
        [
            ErasureTombstoneTests.Leaf("backlog", "acme", Erased, "198.51.100.23", madeBefore),
            ErasureTombstoneTests.Leaf("anonymous", "acme", null, "203.0.113.77", madeBefore),
            ErasureTombstoneTests.Leaf("anonymous-globex", "globex", null, "203.0.113.77", madeBefore),
            ErasureTombstoneTests.Leaf("kept", "acme", Kept, "198.51.100.23", madeBefore),
            ErasureTombstoneTests.Leaf("new", "acme", Erased, "198.51.100.23", madeAfter),
        ], 7)).EnsureSuccessStatusCode();

        using var auditor = writer.Client(WriterFixture.GlobalEraserKey);
        var records = (await ErasureTests.RecordsAsync(auditor, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal("{\"protection\":\"erased\"}", ErasureTombstoneTests.Subject(records["backlog"]).GetRawText());
        Assert.Equal("{\"protection\":\"erased\"}", ErasureTombstoneTests.Subject(records["anonymous"]).GetRawText());
        Assert.Equal("203.0.113.77", ErasureTombstoneTests.Subject(records["anonymous-globex"]).GetProperty("clientIp").GetString());
        Assert.Equal(Kept, records["kept"].GetProperty("principal").GetString());
        Assert.Equal(Erased, records["new"].GetProperty("principal").GetString());
        Assert.Equal(["new"], (await ErasureTests.RecordsAsync(auditor, $"principal={Uri.EscapeDataString(Erased)}")).Select(r => r.GetProperty("id").GetString()));
        var key = NoteVerifier.Parse((await writer.Client().GetStringAsync("/audit/key")).Split('\n')[0]);
        await writer.WaitForCheckpointAsync(7);
        using var opened = PostgresAuditStore.OpenReadOnly(store);
        var report = LogVerifier.VerifyStore(opened, [key]);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(7, report.RecordsChecked);
    }

    [Fact]
    public async Task Erase_ByTheOtherWriterWhileThisOneStoodBy_OlderRecordArrivingAtThisOneIsStoredErased()
    {
        var store = await NewStoreAsync();
        await using var first = await StartWriterAsync(store);
        await WaitForRoleAsync(first, "sequencer", TimeSpan.FromSeconds(10));
        await using var second = await StartWriterAsync(store, sharingKeysWith: first);
        // The first looks the subject up (no tombstone then) and caches its key.
        (await first.IngestAsync([ErasureTests.Leaf("c0", "acme", Erased, "203.0.113.77")], 1)).EnsureSuccessStatusCode();
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-1);

        await TerminateLeaseHolderAsync(store);
        await WaitForRoleAsync(second, "sequencer", TimeSpan.FromSeconds(5));
        await WaitForRoleAsync(first, "standby", TimeSpan.FromSeconds(5));
        await ErasureTombstoneTests.EraseAsync(second.Client(WriterFixture.GlobalEraserKey), new { subject = Erased });
        await second.StopAppAsync();
        await WaitForRoleAsync(first, "sequencer", TimeSpan.FromSeconds(10));
        (await first.IngestAsync([ErasureTombstoneTests.Leaf("backlog", "acme", Erased, "203.0.113.77", madeBefore)], 3)).EnsureSuccessStatusCode();

        using var dpo = first.Client(WriterFixture.GlobalEraserKey);
        var backlog = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=backlog"));
        Assert.Equal("{\"protection\":\"erased\"}", ErasureTombstoneTests.Subject(backlog).GetRawText());
        Assert.Empty(await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
    }

    private static async Task<List<long>> SubjectIdsAsync(string store, byte[] blind)
    {
        await using var connection = new NpgsqlConnection(store);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM audit_subjects WHERE blind = @blind", connection);
        command.Parameters.AddWithValue("blind", blind);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    /// <summary>PostgreSQL ends the lease holder's session, as when its process dies or the network cuts it off.</summary>
    private static async Task TerminateLeaseHolderAsync(string store)
    {
        await using var admin = new NpgsqlConnection(store);
        await admin.OpenAsync();
        await using var kill = new NpgsqlCommand(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = @lo AND classid::bigint = @hi", admin);
        kill.Parameters.AddWithValue("lo", PostgresWriterLease.Key & 0xFFFF_FFFF);
        kill.Parameters.AddWithValue("hi", PostgresWriterLease.Key >> 32);
        Assert.Equal(true, await kill.ExecuteScalarAsync());
    }

    private static async Task<byte[]> TileAsync(WriterFixture writer, string path)
    {
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        using var response = await auditor.GetAsync(path);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsByteArrayAsync() : [];
    }

    private static async Task WaitForTileAsync(WriterFixture writer, string path, byte[] expected, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!(await TileAsync(writer, path)).AsSpan().SequenceEqual(expected))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path} on the standby did not match the leader's within {within}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Open_PostgresStoreWrittenBeforeTiles_BuildsTilesOnceAndTheRootMatches()
    {
        var connectionString = await NewStoreAsync();
        var tree = new Edge.Audit.Merkle.MerkleTree();
        using (var store = PostgresAuditStore.Open(connectionString))
        {
            Assert.True(store.Lease.TryAcquire());
            using var batch = store.BeginAppend(0);
            for (var i = 0; i < 1000; i++)
            {
                var id = "r" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                var leaf = new PendingLeaf(System.Text.Encoding.UTF8.GetBytes(id), new LeafSummary(id, DateTimeOffset.UnixEpoch, null, null, null, null, null));
                batch.Add(leaf);
                tree.AppendLeafHash(leaf.Hash);
            }

            batch.Commit();
            Assert.Equal(0, store.TiledSize());
        }

        var directory = Directory.CreateTempSubdirectory("edge-pg-tiles-").FullName;
        try
        {
            var options = new Edge.AuditWriter.Hosting.WriterOptions
            {
                Postgres = connectionString,
                KeyPath = Path.Combine(directory, "writer.key"),
                SubjectKeyPath = Path.Combine(directory, "subject.key"),
                Origin = "test.edge/audit",
            };
            using (var log = new Edge.AuditWriter.Log.AuditLog(options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Edge.AuditWriter.Log.AuditLog>.Instance))
            {
                Assert.Equal(1000, log.Size);
                Assert.Equal(1000, log.Store.TiledSize());
                Assert.Equal(tree.InclusionProof(511, 1000), log.InclusionProof(511, 1000));
                Assert.Equal(tree.ConsistencyProof(300, 1000), log.ConsistencyProof(300, 1000));
                Assert.True(((PostgresAuditStore)log.Store).Lease.TryAcquire());
                await log.TakeOverAsync(CancellationToken.None);
                Assert.True(await log.CheckpointAsync(CancellationToken.None));
                Assert.Equal(tree.Root(), log.LatestCheckpoint.Root);
            }

            // A second start finds the tiles and builds nothing: the 256-leaf tiles it would insert again are there once.
            using var reopened = new Edge.AuditWriter.Log.AuditLog(options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Edge.AuditWriter.Log.AuditLog>.Instance);
            Assert.Equal(1000, reopened.Size);
            Assert.Equal(tree.Root(), reopened.LatestCheckpoint.Root);
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM audit_tiles", connection);
            Assert.Equal(3L, await count.ExecuteScalarAsync());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task TakeOver_DatabaseLostRecordsThisWriterSaw_RefusesToSequence()
    {
        var store = await NewStoreAsync();
        var database = new NpgsqlConnectionStringBuilder(store).Database!;
        await using var writer = await StartWriterAsync(store);
        await WaitForRoleAsync(writer, "sequencer", TimeSpan.FromSeconds(10));
        (await writer.IngestAsync(Enumerable.Range(0, 5).Select(i => WriterFixture.Leaf($"kept{i}", "acme")).ToList(), 5)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(5);
        (await writer.IngestAsync(Enumerable.Range(0, 3).Select(i => WriterFixture.Leaf($"lost{i}", "acme")).ToList(), 8)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(8);

        // What a failover to an asynchronous replica that missed the last commits leaves behind (only a superuser can do
        // this here: the triggers refuse it to everyone else). Then the writer's lease session ends, so it takes over again.
        await postgres.Server.ExecuteAsync(database, """
            ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only;
            ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
            DELETE FROM audit_records WHERE idx >= 5;
            DELETE FROM audit_checkpoints WHERE size > 5;
            ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only;
            ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only;
            SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted;
            """);
        await WaitForRoleAsync(writer, "standby", TimeSpan.FromSeconds(5));
        var roles = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            roles.Add(await RoleAsync(writer));
            await Task.Delay(100);
        }

        using var refused = await writer.IngestAsync([WriterFixture.Leaf("after", "acme")], 9);

        Assert.All(roles, role => Assert.Equal("standby", role));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        await using var connection = new NpgsqlConnection(store);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM audit_records", connection);
        Assert.Equal(5L, await count.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Username=edge;Password=hunter2-inline")]
    [InlineData("env:EDGE_TEST_PG_UNSET_VARIABLE")]
    public void ResolveConnectionString_InlinePasswordOrUnsetReference_RefusedWithoutTheSecret(string configured)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => Edge.AuditWriter.Log.AuditLog.ResolveConnectionString(configured));

        Assert.StartsWith("Writer:Postgres", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveConnectionString_ReferenceOrInlineWithoutPassword_Resolved()
    {
        Environment.SetEnvironmentVariable("EDGE_TEST_PG_CONNECTION", "Host=db;Password=from-env");
        try
        {
            Assert.Equal("Host=db;Password=from-env", Edge.AuditWriter.Log.AuditLog.ResolveConnectionString("env:EDGE_TEST_PG_CONNECTION"));
            Assert.Equal("Host=db;Username=edge", Edge.AuditWriter.Log.AuditLog.ResolveConnectionString("Host=db;Username=edge"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("EDGE_TEST_PG_CONNECTION", null);
        }
    }
}
