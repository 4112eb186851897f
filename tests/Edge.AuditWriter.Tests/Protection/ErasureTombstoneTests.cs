using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Protection;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Protection;

/// <summary>
/// Erasure tombstones: a record made before its subject's erasure and delivered after it (an edge's spool backlog) is
/// stored already erased; a record made after the erasure is new data and stays readable.
/// </summary>
public sealed class ErasureTombstoneTests
{
    private const string Erased = "erin.erasable@example.test";
    private const string ErasedIp = "203.0.113.77";
    private const string Kept = "kim.kept@example.test";
    private const string KeptIp = "198.51.100.23";
    private const string ErasedSubject = "{\"protection\":\"erased\"}";

    internal static byte[] Leaf(string id, string tenant, string? principal, string clientIp, DateTimeOffset time) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id,
            Time = time,
            Instance = "edge-test",
            Tenant = tenant,
            Decision = principal is null ? "deny" : "allow",
            Reason = principal is null ? "authentication_required" : null,
            Route = "orders",
            Method = "GET",
            Path = "/orders/7",
            Status = principal is null ? 401 : 200,
            Subject = new AuditSubject { Principal = principal, ClientIp = clientIp },
        });

    internal static async Task EraseAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("/audit/erasure", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    internal static JsonElement Subject(JsonElement record) => record.GetProperty("record").GetProperty("data").GetProperty("subject");

    [Fact]
    public async Task Ingest_RecordMadeBeforeErasureDeliveredAfter_StoredErasedWhileLaterRecordStaysReadableAndProofsVerify()
    {
        await using var writer = await WriterFixture.StartAsync();
        var log = writer.Services.GetRequiredService<AuditLog>();
        (await writer.IngestAsync([Leaf("early", "acme", Erased, ErasedIp, DateTimeOffset.UtcNow)], 1)).EnsureSuccessStatusCode();
        // Made now, on the edge, but still in its spool when the erasure comes.
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        await EraseAsync(dpo, new { subject = Erased });
        var madeAfter = DateTimeOffset.UtcNow.AddMilliseconds(1);
        (await writer.IngestAsync(
            [Leaf("backlog", "acme", Erased, ErasedIp, madeBefore), Leaf("kept", "acme", Kept, KeptIp, madeBefore), Leaf("new", "acme", Erased, ErasedIp, madeAfter)], 4))
            .EnsureSuccessStatusCode();

        var records = (await ErasureTests.RecordsAsync(dpo, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        var backlog = records["backlog"];
        Assert.Equal(ErasedSubject, Subject(backlog).GetRawText());
        Assert.Equal(JsonValueKind.Null, backlog.GetProperty("principal").ValueKind);
        Assert.False(backlog.GetProperty("pruned").GetBoolean());
        // The same shape erasure leaves: a v2 leaf whose ciphertext no stored key opens.
        var backlogLeaf = JsonDocument.Parse(Convert.FromBase64String(backlog.GetProperty("leaf").GetString()!)).RootElement;
        var earlyLeaf = JsonDocument.Parse(Convert.FromBase64String(records["early"].GetProperty("leaf").GetString()!)).RootElement;
        Assert.Equal("urn:edge:audit:record:2", backlogLeaf.GetProperty("dataschema").GetString());
        Assert.Equal(
            earlyLeaf.GetProperty("data").GetProperty("subject").EnumerateObject().Select(p => p.Name),
            backlogLeaf.GetProperty("data").GetProperty("subject").EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            earlyLeaf.GetProperty("data").GetProperty("subject").GetProperty("ciphertext").GetString()!.Length,
            backlogLeaf.GetProperty("data").GetProperty("subject").GetProperty("ciphertext").GetString()!.Length);
        Assert.Equal(ErasedSubject, Subject(records["early"]).GetRawText());
        Assert.Equal(Erased, Subject(records["new"]).GetProperty("principal").GetString());
        Assert.Equal(ErasedIp, Subject(records["new"]).GetProperty("clientIp").GetString());
        Assert.Equal(Kept, Subject(records["kept"]).GetProperty("principal").GetString());
        Assert.Equal(["new"], (await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}")).Select(r => r.GetProperty("id").GetString()));
        Assert.Single(ErasureTests.SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased)));

        // The leaf hash is the hash of the stored leaf; inclusion and consistency proofs verify.
        var after = await writer.WaitForCheckpointAsync(5);
        using var anonymous = writer.Client();
        var key = NoteVerifier.Parse((await anonymous.GetStringAsync("/audit/key")).Split('\n')[0]);
        var signed = SignedNote.Open(after, [key]);
        Assert.True(signed.Valid);
        var index = backlog.GetProperty("index").GetInt64();
        var leafHash = Rfc9162.LeafHash(Convert.FromBase64String(backlog.GetProperty("leaf").GetString()!));
        Assert.Equal(Convert.ToBase64String(leafHash), backlog.GetProperty("leafHash").GetString());
        Assert.True(Rfc9162.VerifyInclusion(index, 5, leafHash, await ErasureTests.ProofAsync(dpo, $"/audit/proof/inclusion?index={index}&size=5"), signed.Checkpoint!.Root));
        using (var store = AuditStore.OpenReadOnly(writer.StorePath))
        {
            var report = LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
            Assert.Equal(5, report.RecordsChecked);
        }

        var export = (await dpo.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n').Select(Encoding.UTF8.GetBytes).ToList();
        var offline = LogVerifier.VerifyExport(export, after, [key]);
        Assert.True(offline.Valid, offline.Problem);

        await writer.StopAppAsync();
        Assert.Empty(StoreScan.Find(writer.Directory, StoreScan.Encodings("principal", Erased)));
    }

    [Fact]
    public async Task Ingest_NewerRecordCachedTheNewKeyThenOlderRecordArrives_OlderStoredErasedNotUnderTheNewKey()
    {
        await using var writer = await WriterFixture.StartAsync();
        var log = writer.Services.GetRequiredService<AuditLog>();
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        await EraseAsync(dpo, new { subject = Erased });

        // A new request by the same person: a new key, which the next batch finds in the key cache.
        (await writer.IngestAsync([Leaf("new", "acme", Erased, ErasedIp, DateTimeOffset.UtcNow.AddMilliseconds(1))], 1)).EnsureSuccessStatusCode();
        var cached = log.CachedSubjectKeys;
        (await writer.IngestAsync([Leaf("backlog", "acme", Erased, ErasedIp, madeBefore)], 2)).EnsureSuccessStatusCode();

        // The new key. The erasure record's own subject (the caller who asked) is not cached: that record commits with the
        // erasure, and the cache is cleared once the erased keys are gone.
        Assert.Equal(1, cached);
        var newKey = log.DataKey(Assert.Single(ErasureTests.SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased))).Id)!;
        var backlog = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=backlog"));
        Assert.Equal(ErasedSubject, Subject(backlog).GetRawText());
        var (_, openedWithNewKey) = SubjectProtector.Reveal(Convert.FromBase64String(backlog.GetProperty("leaf").GetString()!), "backlog", newKey);
        Assert.Null(openedWithNewKey);
        Assert.Equal(Erased, Subject(Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=new"))).GetProperty("principal").GetString());
    }

    [Fact]
    public async Task AppendAsync_SealedAheadWithACachedKeyThenErasedBeforeItsCommit_SealedAgainUnderTheNewKey()
    {
        await using var writer = await WriterFixture.StartAsync();
        var log = writer.Services.GetRequiredService<AuditLog>();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        (await writer.IngestAsync([Leaf("first", "acme", Erased, ErasedIp, DateTimeOffset.UtcNow)], 1)).EnsureSuccessStatusCode();
        var oldKey = log.DataKey(Assert.Single(ErasureTests.SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased))).Id)!;
        var bytes = Leaf("later", "acme", Erased, ErasedIp, DateTimeOffset.UtcNow.AddSeconds(5));
        var later = new PendingLeaf(bytes, LeafSummary.TryParse(bytes, out var layout, out _)!) { Layout = layout };

        Task<ErasureResult> erasure;
        Task<int> append;
        using (await log.HoldAppendsAsync())
        {
            // The erasure waits for the lock first; the batch is sealed with the cached (soon deleted) key, then waits.
            erasure = log.EraseAsync(Erased, null, "dpo", CancellationToken.None);
            append = log.AppendAsync([later], CancellationToken.None);
            Assert.False(append.IsCompleted);
        }

        await erasure;
        Assert.Equal(1, await append);
        var record = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=later"));
        Assert.Equal(Erased, Subject(record).GetProperty("principal").GetString());
        var leaf = Convert.FromBase64String(record.GetProperty("leaf").GetString()!);
        Assert.Null(SubjectProtector.Reveal(leaf, "later", oldKey).Principal);
        Assert.Equal(Convert.ToBase64String(Rfc9162.LeafHash(leaf)), record.GetProperty("leafHash").GetString());
    }

    [Fact]
    public async Task Ingest_AfterWriterRestart_TombstoneStillErasesOlderRecordsOnArrival()
    {
        await using var writer = await WriterFixture.StartAsync();
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using (var dpo = writer.Client(WriterFixture.GlobalEraserKey))
        {
            await EraseAsync(dpo, new { subject = Erased });
            await EraseAsync(dpo, new { clientIp = ErasedIp });
        }

        await writer.StopAppAsync();
        await writer.StartAppAsync();
        (await writer.IngestAsync(
            [Leaf("backlog", "acme", Erased, KeptIp, madeBefore), Leaf("anonymous", "acme", null, ErasedIp, madeBefore), Leaf("other", "acme", null, KeptIp, madeBefore)], 3))
            .EnsureSuccessStatusCode();

        using var reader = writer.Client(WriterFixture.GlobalEraserKey);
        var records = (await ErasureTests.RecordsAsync(reader, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal(ErasedSubject, Subject(records["backlog"]).GetRawText());
        Assert.Equal(ErasedSubject, Subject(records["anonymous"]).GetRawText());
        Assert.Equal(KeptIp, Subject(records["other"]).GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task Ingest_TenantScopedErasure_ErasesArrivalsInThatTenantOnly()
    {
        await using var writer = await WriterFixture.StartAsync();
        var madeBefore = DateTimeOffset.UtcNow.AddSeconds(-10);
        using var acmeDpo = writer.Client(WriterFixture.AcmeEraserKey);
        await EraseAsync(acmeDpo, new { subject = Erased });

        (await writer.IngestAsync([Leaf("acme-backlog", "acme", Erased, ErasedIp, madeBefore), Leaf("globex-backlog", "globex", Erased, ErasedIp, madeBefore)], 2))
            .EnsureSuccessStatusCode();

        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var records = (await ErasureTests.RecordsAsync(dpo, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal(ErasedSubject, Subject(records["acme-backlog"]).GetRawText());
        Assert.Equal(Erased, Subject(records["globex-backlog"]).GetProperty("principal").GetString());
        Assert.Equal(["globex-backlog"], (await ErasureTests.RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}")).Select(r => r.GetProperty("id").GetString()));
    }
}
