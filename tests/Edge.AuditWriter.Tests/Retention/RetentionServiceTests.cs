using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Retention;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Edge.AuditWriter.Tests.Retention;

public sealed class RetentionServiceTests
{
    internal static readonly DateTimeOffset Start = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    internal static byte[] Leaf(string id, string tenant, TimeSpan age, string principal) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id,
            Time = Start - age,
            Instance = "edge-test",
            Tenant = tenant,
            Decision = "allow",
            Route = "orders",
            Status = 200,
            Subject = new AuditSubject { Principal = principal, ClientIp = "192.0.2.44" },
        });

    [Fact]
    public async Task Retention_DefaultAndTenantOverride_PrunesExpiredRecordsShredsTheirKeysAndKeepsProofs()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Tenants:globex=1.00:00:00",
            "--Writer:Retention:Interval=01:00:00",
        ]);
        using var measurements = new WriterMeasurements(writer.Services.GetRequiredService<IMeterFactory>());
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        // The run at start, on the empty store: the records below are ingested after it, so the next run prunes them.
        await WaitForRetentionRecordsAsync(auditor, clock, 1);
        (await writer.IngestAsync(
        [
            Leaf("old-acme", "acme", TimeSpan.FromDays(40), "olga.old@example.test"),
            Leaf("new-acme", "acme", TimeSpan.FromDays(2), "nina.new@example.test"),
            Leaf("old-globex", "globex", TimeSpan.FromDays(2), "gus.globex@example.test"),
            Leaf("new-globex", "globex", TimeSpan.FromHours(1), "gina.globex@example.test"),
        ], 4)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(5);
        var before = (await ErasureTests.RecordsAsync(auditor, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var olgaKeys = ErasureTests.SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal("olga.old@example.test"));
        // The start run may have been counted before the listener above existed, or not.
        var startRunCounted = measurements.Sum("edge.audit.retention.runs");

        clock.Advance(TimeSpan.FromHours(1));
        var run = await WaitForRetentionRecordsAsync(auditor, clock, 2);
        var after = (await ErasureTests.RecordsAsync(auditor, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        var olga = await ErasureTests.RecordsAsync(auditor, "principal=olga.old%40example.test");
        var nina = await ErasureTests.RecordsAsync(auditor, "principal=nina.new%40example.test");
        // The start run's record, four records, one batch record per tenant scope (globex, then the default) and the run's record.
        var note = await writer.WaitForCheckpointAsync(8);

        var attributes = run[0].GetProperty("record").GetProperty("data").GetProperty("attributes");
        Assert.Equal("2", attributes.GetProperty("pruned").GetString());
        Assert.Equal("2", attributes.GetProperty("subjectsShredded").GetString());
        Assert.Equal("retention", run[0].GetProperty("record").GetProperty("data").GetProperty("step").GetString());
        Assert.Equal("30.00:00:00", attributes.GetProperty("default").GetString());
        Assert.Equal("1", attributes.GetProperty("tenantOverrides").GetString());
        Assert.Equal("1.00:00:00", attributes.GetProperty("tenant:globex").GetString());
        foreach (var id in new[] { "old-acme", "old-globex" })
        {
            Assert.True(after[id].GetProperty("pruned").GetBoolean());
            Assert.Equal(JsonValueKind.Null, after[id].GetProperty("leaf").ValueKind);
            Assert.Equal(JsonValueKind.Null, after[id].GetProperty("record").ValueKind);
            Assert.Equal(JsonValueKind.Null, after[id].GetProperty("principal").ValueKind);
            Assert.Equal(before[id].GetProperty("leafHash").GetString(), after[id].GetProperty("leafHash").GetString());
        }

        foreach (var id in new[] { "new-acme", "new-globex" })
        {
            Assert.False(after[id].GetProperty("pruned").GetBoolean());
            Assert.Equal(before[id].GetProperty("leaf").GetString(), after[id].GetProperty("leaf").GetString());
        }

        Assert.Empty(olga);
        Assert.Equal("nina.new@example.test", Assert.Single(nina).GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("principal").GetString());
        Assert.Single(olgaKeys);
        Assert.Empty(StoreScan.Find(writer.Directory, olgaKeys.Select(k => ("olga's wrapped key", k.Wrapped))));

        // Proofs: the pruned records still prove inclusion from their leaf hash; the store and an export verify.
        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        var root = SignedNote.Open(note, [key]).Checkpoint!.Root;
        var index = after["old-acme"].GetProperty("index").GetInt64();
        Assert.True(Rfc9162.VerifyInclusion(index, 8, Convert.FromBase64String(after["old-acme"].GetProperty("leafHash").GetString()!),
            await ErasureTests.ProofAsync(auditor, $"/audit/proof/inclusion?index={index}&size=8"), root));
        var export = (await auditor.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n');
        Assert.Equal(2, export.Count(line => line.StartsWith("{\"pruned\":true,", StringComparison.Ordinal)));
        var offline = LogVerifier.VerifyExport(export.Select(Encoding.UTF8.GetBytes), note, [key]);
        Assert.True(offline.Valid, offline.Problem);
        Assert.Equal(2, offline.PrunedRecords);
        using (var store = AuditStore.OpenReadOnly(writer.StorePath))
        {
            var report = LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
            Assert.Equal(2, report.PrunedRecords);
        }

        // A bundle carries pruned records as their leaf hash, proven against the signed root; a forged hash fails it.
        var bundle = await auditor.GetByteArrayAsync("/audit/export?format=bundle");
        var bundleReport = BundleVerifier.Verify(new MemoryStream(bundle), [key]);
        var prunedLine = bundle.AsSpan().IndexOf("{\"pruned\":true,"u8);
        Assert.True(prunedLine > 0, "the bundle carries no pruned line");
        var hashAt = prunedLine + bundle.AsSpan(prunedLine).IndexOf("\"leafHash\":\""u8) + "\"leafHash\":\""u8.Length;
        var forged = bundle.ToArray();
        forged[hashAt] = (byte)(forged[hashAt] == (byte)'A' ? 'B' : 'A');
        var forgedReport = BundleVerifier.Verify(new MemoryStream(forged), [key]);
        var csv = (await auditor.GetStringAsync("/audit/export?format=csv")).TrimEnd('\n').Split('\n');
        Assert.True(bundleReport.Valid, bundleReport.Problem);
        Assert.Equal(2, bundleReport.PrunedRecords);
        Assert.False(forgedReport.Valid);
        Assert.Equal(2, csv.Count(row => row.Contains(",(pruned),orders,,,,allow,,", StringComparison.Ordinal)));
        Assert.Contains(csv, row => row.Contains(",nina.new@example.test,", StringComparison.Ordinal));

        // A further run finds nothing new and still writes its record; the metrics count both runs after the start.
        clock.Advance(TimeSpan.FromHours(1));
        var runs = await WaitForRetentionRecordsAsync(auditor, clock, 3);
        Assert.Equal("0", runs[0].GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
        Assert.Equal(startRunCounted + 2, measurements.Sum("edge.audit.retention.runs"));
        Assert.Equal(2, measurements.Sum("edge.audit.retention.pruned"));
        Assert.Equal(2, measurements.Sum("edge.audit.retention.subjects.shredded"));
        using var anonymous = writer.Client();
        var scrape = await anonymous.GetStringAsync("/metrics");
        Assert.Contains("edge_audit_retention_runs_total", scrape, StringComparison.Ordinal);
        Assert.Contains("edge_audit_retention_pruned_total", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_BatchRecordsOlderThanRetention_KeptSoEveryEarlierPruneStaysNamed()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Interval=01:00:00",
        ]);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        await WaitForRetentionRecordsAsync(auditor, clock, 1);
        (await writer.IngestAsync([Leaf("old", "acme", TimeSpan.FromDays(40), "olga.old@example.test")], 1)).EnsureSuccessStatusCode();
        clock.Advance(TimeSpan.FromHours(1));
        await WaitForRetentionRecordsAsync(auditor, clock, 2);
        var batch = Assert.Single(await ErasureTests.RecordsAsync(auditor, "decision=pruned"));
        var batchIndex = batch.GetProperty("index").GetInt64();
        var attributes = batch.GetProperty("record").GetProperty("data").GetProperty("attributes");

        // A month on, the batch record and the runs' own records are past retention too.
        clock.Advance(TimeSpan.FromDays(31));
        List<JsonElement> records;
        var attempt = 0;
        while (!(records = await ErasureTests.RecordsAsync(auditor, "")).Any(r => r.GetProperty("index").GetInt64() == 0 && r.GetProperty("pruned").GetBoolean()))
        {
            Assert.True(++attempt < 100, "the first run's record was not pruned within 10 s");
            clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(100);
        }

        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        await writer.StopAppAsync();
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        var report = LogVerifier.VerifyStore(store, [key]);

        Assert.Equal(AuditEventTypes.RetentionApplied, batch.GetProperty("record").GetProperty("type").GetString());
        Assert.Equal("1", attributes.GetProperty("pruned").GetString());
        Assert.Equal("1", attributes.GetProperty("prunedIndices").GetString());
        Assert.Equal("default", attributes.GetProperty("scope").GetString());
        // The record naming the first prune keeps its body; the runs' closing records name nothing and were pruned.
        Assert.False(records.Single(r => r.GetProperty("index").GetInt64() == batchIndex).GetProperty("pruned").GetBoolean());
        Assert.True(records.Single(r => r.GetProperty("index").GetInt64() == batchIndex + 1).GetProperty("pruned").GetBoolean());
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(3, report.PrunedRecords);
    }

    [Fact]
    public async Task VerifyStore_RecordPrunedByHandBesideOnesPrunedByRetention_FailsNamingIt()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Interval=01:00:00",
        ]);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        await WaitForRetentionRecordsAsync(auditor, clock, 1);
        (await writer.IngestAsync(
        [
            Leaf("old", "acme", TimeSpan.FromDays(40), "olga.old@example.test"),
            Leaf("new", "acme", TimeSpan.FromDays(2), "nina.new@example.test"),
        ], 2)).EnsureSuccessStatusCode();
        clock.Advance(TimeSpan.FromHours(1));
        await WaitForRetentionRecordsAsync(auditor, clock, 2);
        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        await writer.StopAppAsync();
        using (var before = AuditStore.OpenReadOnly(writer.StorePath))
        {
            var intact = LogVerifier.VerifyStore(before, [key]);
            Assert.True(intact.Valid, intact.Problem);
        }

        // "new" (index 2) emptied as retention empties a record, in sqlite3, with the store's triggers in place.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={writer.StorePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE records SET leaf = X'', principal = NULL WHERE record_id = 'new'";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        var report = LogVerifier.VerifyStore(store, [key]);

        Assert.False(report.Valid);
        Assert.Equal(2, report.FirstBadIndex);
        Assert.Contains("record 2 is pruned, but no retention or erasure record names it", report.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_ShreddedSubjectKeyCachedByAnEarlierBatch_NextRecordGetsANewKey()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Interval=01:00:00",
        ]);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var blind = log.Keyring.BlindPrincipal("olga.old@example.test");
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        await WaitForRetentionRecordsAsync(auditor, clock, 1);
        (await writer.IngestAsync([Leaf("old", "acme", TimeSpan.FromDays(40), "olga.old@example.test")], 1)).EnsureSuccessStatusCode();
        var shreddedRow = Assert.Single(ErasureTests.SubjectKeys(writer.StorePath, blind));
        var shreddedKey = log.DataKey(shreddedRow.Id)!;
        var cachedBeforeRetention = log.CachedSubjectKeys;

        clock.Advance(TimeSpan.FromHours(1));
        var run = await WaitForRetentionRecordsAsync(auditor, clock, 2);
        var afterRetention = ErasureTests.SubjectKeys(writer.StorePath, blind);
        (await writer.IngestAsync([Leaf("fresh", "acme", TimeSpan.FromHours(-1), "olga.old@example.test")], 2)).EnsureSuccessStatusCode();

        Assert.Equal(1, cachedBeforeRetention);
        Assert.Equal("1", run[0].GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("subjectsShredded").GetString());
        Assert.Empty(afterRetention);
        var newRow = Assert.Single(ErasureTests.SubjectKeys(writer.StorePath, blind));
        // SQLite may give the new row the shredded one's id; the key is what must differ.
        Assert.NotEqual(shreddedRow.Wrapped, newRow.Wrapped);
        var fresh = Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=fresh"));
        Assert.Equal("olga.old@example.test", fresh.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("principal").GetString());
        var (_, openedWithShreddedKey) = Edge.AuditWriter.Protection.SubjectProtector.Reveal(Convert.FromBase64String(fresh.GetProperty("leaf").GetString()!), "fresh", shreddedKey);
        Assert.Null(openedWithShreddedKey);
    }

    [Fact]
    public async Task Retention_RecordsPastRetentionWhenTheWriterRestarts_PrunedAtStartNotAnIntervalLater()
    {
        var clock = new FakeTimeProvider(Start);
        var directory = Directory.CreateTempSubdirectory("edge-writer-").FullName;
        var before = await WriterFixture.StartAsync(directory, time: clock);
        (await before.IngestAsync([Leaf("old", "acme", TimeSpan.FromDays(40), "olga.old@example.test")], 1)).EnsureSuccessStatusCode();
        await before.WaitForCheckpointAsync(1);
        // Stopped, not disposed: disposing deletes the directory the restarted writer opens.
        await before.StopAppAsync();

        // A daily run on a writer restarted every night: the first run came a whole interval after each start, so never.
        await using var writer = await WriterFixture.StartAsync(directory, time: clock, extraArgs:
        [
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Interval=1.00:00:00",
        ]);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var run = Assert.Single(await WaitForRetentionRecordsAsync(auditor, clock, 1));
        var old = Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=old"));

        Assert.Equal("1", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
        Assert.True(old.GetProperty("pruned").GetBoolean());
    }

    [Fact]
    public async Task Retention_SpanReachingBeforeYearOne_RunsAndPrunesNothing()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            "--Writer:Retention:Default=3650000.00:00:00",
            "--Writer:Retention:Interval=01:00:00",
        ]);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        // Before, now - span threw on every run: each one failed, and nothing recorded that retention ran.
        var run = Assert.Single(await WaitForRetentionRecordsAsync(auditor, clock, 1));

        Assert.Equal("0", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
        Assert.Equal("3650000.00:00:00", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("default").GetString());
    }

    [Fact]
    public async Task Writer_RetentionIntervalLongerThanATimerTakes_RefusesToStart()
    {
        // Before, the writer started, its retention job threw from PeriodicTimer and the host stopped with exit code 0.
        var error = await RefusedStartAsync("--Writer:Retention:Default=30.00:00:00", "--Writer:Retention:Interval=60.00:00:00");

        Assert.Equal("Writer:Retention:Interval must be at most 49.17:02:47.2940000, not 60.00:00:00.", error);
    }

    [Theory]
    [InlineData("7d")]
    [InlineData("P7D")]
    [InlineData("30 days")]
    public async Task Writer_RetentionTenantOverrideNotATimeSpan_RefusesToStart(string value)
    {
        var error = await RefusedStartAsync("--Writer:Retention:Default=365.00:00:00", $"--Writer:Retention:Tenants:acme={value}", "--Writer:Retention:Tenants:globex=1.00:00:00");

        Assert.Equal($"Writer:Retention:Tenants:acme: '{value}' is not a valid TimeSpan (d.hh:mm:ss, e.g. 30.00:00:00 for 30 days).", error);
    }

    [Theory]
    [InlineData("--Writer:Retention:Default=-1.00:00:00")]
    [InlineData("--Writer:Retention:Tenants:acme=00:00:00")]
    [InlineData("--Writer:Retention:Interval=00:00:00")]
    public async Task Writer_NonPositiveRetention_RefusesToStart(string setting)
    {
        var error = await RefusedStartAsync("--Writer:Retention:Default=1.00:00:00", setting);

        Assert.Contains("Writer:Retention", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Writer:Retention:Tenants:bad tenant=1.00:00:00")]
    [InlineData("--Writer:Retention:Tenants:..=1.00:00:00")]
    public async Task Writer_RetentionForATenantIdNoRecordCanCarry_RefusesToStart(string setting)
    {
        var error = await RefusedStartAsync(setting);

        Assert.Contains("is not a tenant id", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retention_NotConfigured_KeepsEverything()
    {
        var clock = new FakeTimeProvider(Start);
        await using var writer = await WriterFixture.StartAsync(time: clock);
        (await writer.IngestAsync([Leaf("ancient", "acme", TimeSpan.FromDays(4000), "old@example.test")], 1)).EnsureSuccessStatusCode();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        clock.Advance(TimeSpan.FromDays(2));
        await writer.WaitForCheckpointAsync(1);
        var record = Assert.Single(await ErasureTests.RecordsAsync(auditor, ""));

        Assert.False(record.GetProperty("pruned").GetBoolean());
        Assert.Equal("old@example.test", record.GetProperty("principal").GetString());
    }

    /// <summary>The message of the writer's refusal to start with <paramref name="args"/>; its directory is removed after.</summary>
    private static async Task<string> RefusedStartAsync(params string[] args)
    {
        var directory = Directory.CreateTempSubdirectory("edge-writer-").FullName;
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => WriterFixture.StartAsync(directory, extraArgs: args));
            return error.Message;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    internal static async Task<List<JsonElement>> WaitForRetentionRecordsAsync(HttpClient client, FakeTimeProvider clock, int count)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var runs = (await ErasureTests.RecordsAsync(client, "decision=applied"))
                .Where(r => r.GetProperty("record").GetProperty("type").GetString() == AuditEventTypes.RetentionApplied).ToList();
            if (runs.Count >= count)
            {
                return runs;
            }

            // The WAL truncation retries on the writer's clock; move it on a little while waiting.
            clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(100);
        }

        throw new TimeoutException($"No {count} retention records within 10 s.");
    }
}
