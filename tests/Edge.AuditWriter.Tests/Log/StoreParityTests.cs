using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Tests.Protection;
using Edge.AuditWriter.Tests.Retention;
using Edge.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Edge.AuditWriter.Tests.Log;

/// <summary>
/// One scenario, run by a compliance team on each engine: what the SQLite store does and the docs promise, the PostgreSQL
/// store does too (its documented difference: retention shreds keys instead of pruning bodies, see docs/audit-postgres.md).
/// </summary>
public sealed class StoreParityTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private static readonly DateTimeOffset Start = RetentionServiceTests.Start;

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>Where one log lives on one engine: the writer's directory (keys, SQLite file) and, on PostgreSQL, its database.</summary>
    private sealed record Engine(string Name, string Directory, string? ConnectionString)
    {
        public IReadOnlyList<string> Args =>
            ConnectionString is null ? [] : [$"--Writer:Postgres={ConnectionString}", "--Writer:LeaseInterval=00:00:00.250"];

        public IAuditStore OpenReadOnly(string storePath) =>
            ConnectionString is null ? AuditStore.OpenReadOnly(storePath) : PostgresAuditStore.OpenReadOnly(ConnectionString);
    }

    private async Task<Engine> NewEngineAsync(string name) => new(
        name,
        Directory.CreateTempSubdirectory("edge-writer-").FullName,
        name == Postgres ? postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync()) : null);

    private static async Task<WriterFixture> StartAsync(Engine engine, FakeTimeProvider clock, params string[] args)
    {
        var writer = await WriterFixture.StartAsync(engine.Directory, time: clock, extraArgs: [.. engine.Args, .. args]);
        // A PostgreSQL writer starts as a standby and sequences once it holds the lease (its first lease check).
        using var client = writer.Client();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (JsonDocument.Parse(await client.GetStringAsync("/readyz")).RootElement.GetProperty("role").GetString() == "sequencer")
            {
                return writer;
            }

            clock.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(50);
        }

        throw new TimeoutException("The writer did not become the sequencer.");
    }

    /// <summary>Olga's only record is past a 30-day retention, Nina's is not.</summary>
    private static async Task IngestOldAndNewAsync(WriterFixture writer)
    {
        (await writer.IngestAsync(
        [
            RetentionServiceTests.Leaf("old", "acme", TimeSpan.FromDays(40), "olga.old@example.test"),
            RetentionServiceTests.Leaf("new", "acme", TimeSpan.FromDays(2), "nina.new@example.test"),
        ], 2)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(2);
    }

    private static byte[] Request(string id, string tenant, TimeSpan age, string principal, string clientIp, string route = "orders", string? reason = null) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id,
            Time = Start - age,
            Instance = "edge-test",
            Tenant = tenant,
            Decision = reason is null ? "allow" : "deny",
            Step = reason is null ? null : "rbac",
            Reason = reason,
            Route = route,
            Method = "GET",
            Path = "/" + route + "/7",
            Status = reason is null ? 200 : 403,
            Subject = new AuditSubject { Principal = principal, ClientIp = clientIp },
        });

    private const string Erin = "erin.erasable@example.test";
    private const string ErinIp = "203.0.113.77";
    private const string Kim = "kim.kept@example.test";

    /// <summary>
    /// The requests of the scenario's reads, each answered as a line: status, problem code, and per edge record its index, id,
    /// tenant, principal and decrypted record (leaves differ per engine: each encrypts under its own random data keys).
    /// </summary>
    private static readonly string[] Reads =
    [
        "/audit/records?limit=1000",
        "/audit/records?tenant=acme",
        "/audit/records?tenant=globex&decision=deny",
        $"/audit/records?principal={Uri.EscapeDataString(Erin)}",
        $"/audit/records?principal={Uri.EscapeDataString(Kim)}&tenant=acme",
        "/audit/records?route=payments",
        "/audit/records?decision=deny",
        "/audit/records?reason=rbac_denied",
        "/audit/records?id=r4",
        "/audit/records?from=2026-05-30T00:00:00Z&to=2026-05-31T12:00:00Z",
        "/audit/records?limit=3",
        "/audit/records?limit=3&cursor=6",
        "/audit/records?order=asc&limit=4",
        "/audit/records?order=asc&limit=4&cursor=3",
        "/audit/records?order=asc&tenant=acme&route=orders&limit=2&cursor=0",
        "/audit/records?limit=0",
        "/audit/records?cursor=x",
        "/audit/records?order=sideways",
        "/audit/records?decision=maybe",
        "/audit/records?from=yesterday",
        "/audit/records?from=2026-06-01T00:00:00Z&to=2026-05-01T00:00:00Z",
        "/audit/records?tenant=",
        "/audit/records?route=a&route=b",
        "/audit/records?colour=red",
        "/audit/export?format=xml",
        "/audit/proof/inclusion?index=9&size=3",
        "/audit/proof/consistency?from=5&to=2",
    ];

    private static async Task<List<string>> TranscriptAsync(WriterFixture writer)
    {
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);
        var lines = new List<string>();
        foreach (var (client, url) in Reads.Select(u => (auditor, u)).Append((acme, "/audit/records?tenant=globex")).Append((acme, "/audit/records")))
        {
            using var response = await client.GetAsync(url);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var line = new StringBuilder($"{url} -> {(int)response.StatusCode}");
            if (body.TryGetProperty("code", out var code))
            {
                line.Append(' ').Append(code.GetString()).Append(' ').Append(response.Content.Headers.ContentType?.MediaType);
            }

            if (body.TryGetProperty("records", out var records))
            {
                foreach (var record in records.EnumerateArray().Where(r => r.GetProperty("id").GetString()!.StartsWith('r')))
                {
                    line.Append(" | ").Append(record.GetProperty("index").GetInt64()).Append(' ').Append(record.GetProperty("id").GetString())
                        .Append(' ').Append(record.GetProperty("tenant").GetString()).Append(' ').Append(record.GetProperty("principal"))
                        .Append(' ').Append(record.GetProperty("pruned")).Append(' ').Append(record.GetProperty("record").GetProperty("data").GetRawText());
                }

                line.Append(" next=").Append(body.GetProperty("next"));
            }

            lines.Add(line.ToString());
        }

        // The CSV rows of edge records, but for their last column (leaf_sha256): the same text on both engines.
        lines.AddRange((await auditor.GetStringAsync("/audit/export?format=csv")).Split('\n').Where(row => row.Split(',') is [_, ['r', ..], ..])
            .Select(row => row[..row.LastIndexOf(',')]));
        lines.Add(string.Join(' ', (await auditor.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n')
            .Select(l => JsonDocument.Parse(l).RootElement).Select(r => r.GetProperty("id").GetString() is ['r', ..] id ? id : "writer-record")));
        return lines;
    }

    /// <summary>
    /// Ingest, every read, a tenant-scoped and a global erasure, records of the erased subject arriving late and after, and
    /// a restart: returns the transcript of what a client saw, after checking on the engine itself that erased principals
    /// are unreadable everywhere while every proof and the store verify.
    /// </summary>
    private static async Task<List<string>> EraseAndRestartScenarioAsync(Engine engine)
    {
        var clock = new FakeTimeProvider(Start);
        var transcript = new List<string>();
        var writer = await StartAsync(engine, clock);
        (await writer.IngestAsync(
        [
            Request("r0", "acme", TimeSpan.FromDays(3), Erin, ErinIp),
            Request("r1", "acme", TimeSpan.FromDays(2), Kim, "198.51.100.23"),
            Request("r2", "globex", TimeSpan.FromDays(2), Erin, ErinIp, "payments"),
            Request("r3", "acme", TimeSpan.FromDays(1), Erin, ErinIp, reason: "rbac_denied"),
            Request("r4", "globex", TimeSpan.FromHours(30), Kim, "198.51.100.23", "payments", "rbac_denied"),
            Request("r5", "acme", TimeSpan.FromHours(20), Kim, "198.51.100.23"),
            Request("r6", "globex", TimeSpan.FromHours(2), Erin, ErinIp, reason: "rbac_denied"),
            Request("r7", "acme", TimeSpan.FromHours(1), Kim, "198.51.100.23", "payments"),
        ], 8)).EnsureSuccessStatusCode();
        var before = await writer.WaitForCheckpointAsync(8);
        transcript.AddRange(await TranscriptAsync(writer));

        using (var acmeDpo = writer.Client(WriterFixture.AcmeEraserKey))
        using (var dpo = writer.Client(WriterFixture.GlobalEraserKey))
        {
            var scoped = await acmeDpo.PostAsJsonAsync("/audit/erasure", new { subject = Erin, tenant = "acme" });
            transcript.Add($"erase acme -> {(int)scoped.StatusCode} {await scoped.Content.ReadAsStringAsync()}");
            transcript.AddRange(await TranscriptAsync(writer));
            var global = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erin });
            transcript.Add($"erase all -> {(int)global.StatusCode} {await global.Content.ReadAsStringAsync()}");
            var bad = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erin, tenant = "../x" });
            transcript.Add($"erase bad -> {(int)bad.StatusCode} {JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("code")}");
            var forbidden = await acmeDpo.PostAsJsonAsync("/audit/erasure", new { subject = Erin, tenant = "globex" });
            transcript.Add($"erase foreign -> {(int)forbidden.StatusCode} {JsonDocument.Parse(await forbidden.Content.ReadAsStringAsync()).RootElement.GetProperty("code")}");
        }

        // Made before the erasure, arriving after it: stored already erased. Made after it: readable under a new key.
        clock.Advance(TimeSpan.FromHours(1));
        (await writer.IngestAsync([Request("r8", "acme", TimeSpan.FromHours(3), Erin, ErinIp), Request("r9", "acme", -TimeSpan.FromMinutes(30), Erin, ErinIp)], 10))
            .EnsureSuccessStatusCode();
        var size = JsonDocument.Parse(await writer.Client(WriterFixture.GlobalAuditorKey).GetStringAsync("/audit/records?limit=1")).RootElement
            .GetProperty("records")[0].GetProperty("index").GetInt64() + 1;
        var after = await writer.WaitForCheckpointAsync(size);
        transcript.AddRange(await TranscriptAsync(writer));
        await AssertErasedEverywhereButVerifiableAsync(engine, writer, before, after, size, "r0", "r2", "r3", "r6", "r8");

        // A restart keeps the keys deleted, the tombstone in force and the tree it signed.
        await writer.StopAppAsync();
        writer = await StartAsync(engine, clock);
        (await writer.IngestAsync([Request("r10", "globex", TimeSpan.FromHours(5), Erin, ErinIp)], 11)).EnsureSuccessStatusCode();
        var restarted = await writer.WaitForCheckpointAsync(size + 1);
        transcript.AddRange(await TranscriptAsync(writer));
        await AssertErasedEverywhereButVerifiableAsync(engine, writer, after, restarted, size + 1, "r0", "r2", "r3", "r6", "r8", "r10");
        await writer.StopAppAsync();
        return transcript;
    }

    private static async Task AssertErasedEverywhereButVerifiableAsync(
        Engine engine, WriterFixture writer, string before, string after, long size, params string[] erasedIds)
    {
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var records = await ErasureTests.RecordsAsync(auditor, "");
        var readable = records.Where(r => r.GetProperty("principal").ValueKind == JsonValueKind.String).Select(r => r.GetProperty("id").GetString()).ToHashSet();
        var erinFound = (await ErasureTests.RecordsAsync(auditor, $"principal={Uri.EscapeDataString(Erin)}")).Select(r => r.GetProperty("id").GetString());
        var exports = string.Join('\n', await auditor.GetStringAsync("/audit/export?format=ndjson"), await auditor.GetStringAsync("/audit/export?format=csv"));
        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        var signedBefore = SignedNote.Open(before, [key]);
        var signedAfter = SignedNote.Open(after, [key]);

        Assert.Equal(["r9"], erinFound);
        Assert.Contains("r1", readable);
        foreach (var erased in erasedIds)
        {
            var record = records.Single(r => r.GetProperty("id").GetString() == erased);
            Assert.DoesNotContain(erased, readable);
            Assert.Equal("{\"protection\":\"erased\"}", record.GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
            var index = record.GetProperty("index").GetInt64();
            Assert.True(Rfc9162.VerifyInclusion(index, size, Convert.FromBase64String(record.GetProperty("leafHash").GetString()!),
                await ErasureTests.ProofAsync(auditor, $"/audit/proof/inclusion?index={index}&size={size}"), signedAfter.Checkpoint!.Root));
        }

        // Only r9, made after the erasure, still names the subject: in no export line of an erased record.
        Assert.All(exports.Split('\n').Where(l => l.Contains(Erin, StringComparison.Ordinal) || l.Contains(ErinIp, StringComparison.Ordinal)),
            l => Assert.Contains("r9", l, StringComparison.Ordinal));
        Assert.Contains(exports.Split('\n'), l => l.Contains(Erin, StringComparison.Ordinal));
        Assert.True(signedBefore.Valid && signedAfter.Valid);
        Assert.True(Rfc9162.VerifyConsistency(signedBefore.Checkpoint!.Size, size, signedBefore.Checkpoint.Root, signedAfter.Checkpoint!.Root,
            await ErasureTests.ProofAsync(auditor, $"/audit/proof/consistency?from={signedBefore.Checkpoint.Size}&to={size}")));
        using var store = engine.OpenReadOnly(writer.StorePath);
        var report = LogVerifier.VerifyStore(store, [key]);
        Assert.True(report.Valid, report.Problem);
    }

    [Fact]
    public async Task EraseReadExportRestart_SameRequestsOnSqliteAndPostgres_SameAnswers()
    {
        var sqlite = await NewEngineAsync(Sqlite);
        var onPostgres = await NewEngineAsync(Postgres);

        var expected = await EraseAndRestartScenarioAsync(sqlite);
        var actual = await EraseAndRestartScenarioAsync(onPostgres);

        Assert.Contains(expected, line => line.StartsWith("erase acme -> 200", StringComparison.Ordinal) && line.Contains("\"records\":2", StringComparison.Ordinal));
        Assert.Contains("/audit/records?limit=0 -> 400 invalid_limit application/problem+json", expected);
        Assert.Contains("/audit/records?tenant=globex -> 403 tenant_forbidden application/problem+json", expected);
        Assert.Contains(expected, line => line.StartsWith($"/audit/records?principal={Uri.EscapeDataString(Erin)} -> 200 | 6 r6 globex {Erin}", StringComparison.Ordinal));
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }

        Directory.Delete(sqlite.Directory, recursive: true);
        Directory.Delete(onPostgres.Directory, recursive: true);
    }

    [Theory]
    [InlineData(Sqlite)]
    [InlineData(Postgres)]
    public async Task Retention_RecordsPastRetentionWhenTheWriterRestarts_AppliedAtStartOnEveryEngine(string name)
    {
        var engine = await NewEngineAsync(name);
        var clock = new FakeTimeProvider(Start);
        var before = await StartAsync(engine, clock);
        await IngestOldAndNewAsync(before);
        await before.StopAppAsync();

        // A daily run on a writer restarted every night: a run skipped at start comes a whole interval later, so never.
        await using var writer = await StartAsync(engine, clock, "--Writer:Retention:Default=30.00:00:00", "--Writer:Retention:Interval=1.00:00:00");
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var run = Assert.Single(await RetentionServiceTests.WaitForRetentionRecordsAsync(auditor, clock, 1));
        var old = Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=old"));
        var nina = Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=new"));

        Assert.Equal("1", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
        Assert.Equal("1", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("subjectsShredded").GetString());
        Assert.Equal(JsonValueKind.Null, old.GetProperty("principal").ValueKind);
        Assert.Empty(await ErasureTests.RecordsAsync(auditor, "principal=olga.old%40example.test"));
        Assert.DoesNotContain("olga.old@example.test", await auditor.GetStringAsync("/audit/export?format=ndjson"), StringComparison.Ordinal);
        Assert.Equal("nina.new@example.test", nina.GetProperty("principal").GetString());
        await writer.StopAppAsync();
        Directory.Delete(engine.Directory, recursive: true);
    }

    [Fact]
    public async Task Retention_StandbyTakesOverAfterSkippingItsStartRun_AppliesItAtOnce()
    {
        var engine = await NewEngineAsync(Postgres);
        var clock = new FakeTimeProvider(Start);
        var leader = await StartAsync(engine, clock);
        await IngestOldAndNewAsync(leader);
        // A standby skips the run at its start: only the sequencer applies retention to the shared store.
        await using var standby = await WriterFixture.StartAsync(time: clock, extraArgs:
        [
            .. engine.Args,
            $"--Writer:KeyPath={leader.KeyPath}",
            $"--Writer:SubjectKeyPath={Path.Combine(engine.Directory, "keys", "subject.key")}",
            "--Writer:Retention:Default=30.00:00:00",
            "--Writer:Retention:Interval=1.00:00:00",
        ]);
        using var auditor = standby.Client(WriterFixture.GlobalAuditorKey);
        Assert.Equal("standby", JsonDocument.Parse(await auditor.GetStringAsync("/readyz")).RootElement.GetProperty("role").GetString());

        // Rolling restarts: the standby takes over. Before, its first run came an interval after its start, so a pair of
        // writers restarted in turn more often than the interval never applied retention.
        await leader.StopAppAsync();
        var run = Assert.Single(await RetentionServiceTests.WaitForRetentionRecordsAsync(auditor, clock, 1));
        var old = Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=old"));

        Assert.Equal("1", run.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
        Assert.Equal(JsonValueKind.Null, old.GetProperty("principal").ValueKind);
        Assert.Equal("nina.new@example.test", Assert.Single(await ErasureTests.RecordsAsync(auditor, "id=new")).GetProperty("principal").GetString());
        Directory.Delete(engine.Directory, recursive: true);
    }

    [Theory]
    [InlineData(Sqlite)]
    [InlineData(Postgres)]
    public async Task Retention_DefaultAndTenantOverride_ExpiredSubjectsUnreadableAndTreeVerifiesOnEveryEngine(string name)
    {
        var engine = await NewEngineAsync(name);
        var clock = new FakeTimeProvider(Start);
        await using var writer = await StartAsync(engine, clock,
            "--Writer:Retention:Default=30.00:00:00", "--Writer:Retention:Tenants:globex=1.00:00:00", "--Writer:Retention:Interval=01:00:00");
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        await RetentionServiceTests.WaitForRetentionRecordsAsync(auditor, clock, 1);
        (await writer.IngestAsync(
        [
            RetentionServiceTests.Leaf("old-acme", "acme", TimeSpan.FromDays(40), "olga.old@example.test"),
            RetentionServiceTests.Leaf("new-acme", "acme", TimeSpan.FromDays(2), "nina.new@example.test"),
            RetentionServiceTests.Leaf("old-globex", "globex", TimeSpan.FromDays(2), "gus.globex@example.test"),
            RetentionServiceTests.Leaf("new-globex", "globex", TimeSpan.FromHours(1), "gina.globex@example.test"),
        ], 4)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(5);

        clock.Advance(TimeSpan.FromHours(1));
        var run = (await RetentionServiceTests.WaitForRetentionRecordsAsync(auditor, clock, 2))[0];
        // The start run's record, four records, one batch record per tenant scope (globex, then the default) and the run's record.
        var note = await writer.WaitForCheckpointAsync(8);
        var records = (await ErasureTests.RecordsAsync(auditor, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        var exports = await auditor.GetStringAsync("/audit/export?format=ndjson") + await auditor.GetStringAsync("/audit/export?format=csv");
        var key = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        var root = SignedNote.Open(note, [key]).Checkpoint!.Root;

        var attributes = run.GetProperty("record").GetProperty("data").GetProperty("attributes");
        Assert.Equal("2", attributes.GetProperty("pruned").GetString());
        Assert.Equal("2", attributes.GetProperty("subjectsShredded").GetString());
        Assert.Equal("2", attributes.GetProperty("batches").GetString());
        // One record per batch, committed with it, naming what it deleted: record indices on SQLite, subject ids on PostgreSQL.
        var batches = (await ErasureTests.RecordsAsync(auditor, "decision=pruned")).ToDictionary(r => r.GetProperty("tenant").GetString() ?? "default");
        Assert.Equal(["default", "globex"], batches.Keys.Order());
        foreach (var (scope, batch) in batches)
        {
            var named = batch.GetProperty("record").GetProperty("data").GetProperty("attributes");
            Assert.Equal("1", named.GetProperty("pruned").GetString());
            Assert.Equal(scope == "globex" ? "tenant" : "default", named.GetProperty("scope").GetString());
            if (name == Sqlite)
            {
                Assert.Equal(records[scope == "globex" ? "old-globex" : "old-acme"].GetProperty("index").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    named.GetProperty("prunedIndices").GetString());
            }
            else
            {
                Assert.Matches("^[0-9]+$", named.GetProperty("shreddedSubjects").GetString()!);
            }
        }

        foreach (var (id, principal) in new[] { ("old-acme", "olga.old@example.test"), ("old-globex", "gus.globex@example.test") })
        {
            Assert.Equal(JsonValueKind.Null, records[id].GetProperty("principal").ValueKind);
            Assert.Empty(await ErasureTests.RecordsAsync(auditor, "principal=" + Uri.EscapeDataString(principal)));
            Assert.DoesNotContain(principal, exports, StringComparison.Ordinal);
            var index = records[id].GetProperty("index").GetInt64();
            Assert.True(Rfc9162.VerifyInclusion(index, 8, Convert.FromBase64String(records[id].GetProperty("leafHash").GetString()!),
                await ErasureTests.ProofAsync(auditor, $"/audit/proof/inclusion?index={index}&size=8"), root));
        }

        Assert.Equal("nina.new@example.test", records["new-acme"].GetProperty("principal").GetString());
        Assert.Equal("gina.globex@example.test", records["new-globex"].GetProperty("principal").GetString());
        using (var store = engine.OpenReadOnly(writer.StorePath))
        {
            var report = LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
        }

        // A further run finds nothing more on either engine.
        clock.Advance(TimeSpan.FromHours(1));
        var next = (await RetentionServiceTests.WaitForRetentionRecordsAsync(auditor, clock, 3))[0];
        Assert.Equal("0", next.GetProperty("record").GetProperty("data").GetProperty("attributes").GetProperty("pruned").GetString());
    }
}
