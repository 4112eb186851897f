using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Microsoft.Data.Sqlite;

namespace Edge.AuditWriter.Tests.Protection;

/// <summary>
/// Fixtures/audit-v1-store.sqlite was written by the writer before subject protection existed (8 v1 records with
/// plaintext subjects: legacy-alice at 192.0.2.71 in acme, legacy-bob at 192.0.2.72 in globex; checkpoints at 5 and 8),
/// with its verifier key beside it. Its signing key is not kept: the upgraded writer signs with a new key, as after a rotation.
/// </summary>
public sealed class V1StoreTests
{
    private static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Protection", "Fixtures", name);

    private static NoteVerifier OldKey => NoteVerifier.Parse(File.ReadAllText(FixturePath("audit-v1.key.pub")).Trim());

    [Fact]
    public void VerifyStore_StoreWrittenBeforeProtection_StillVerifies()
    {
        using var store = AuditStore.OpenReadOnly(FixturePath("audit-v1-store.sqlite"));

        var report = LogVerifier.VerifyStore(store, [OldKey]);

        Assert.True(report.Valid, report.Problem);
        Assert.Equal(8, report.RecordsChecked);
        Assert.Equal(3, report.CheckpointsChecked);
    }

    [Fact]
    public async Task Writer_UpgradedV1Store_AppendsV2SearchesBothAndErasesV1ByPruning()
    {
        var directory = Directory.CreateTempSubdirectory("edge-writer-v1-").FullName;
        File.Copy(FixturePath("audit-v1-store.sqlite"), Path.Combine(directory, "audit.db"));
        await using var writer = await WriterFixture.StartAsync(directory);
        (await writer.IngestAsync([ErasureTests.Leaf("v2-0", "acme", "legacy-alice", "192.0.2.71"), ErasureTests.Leaf("v2-1", "globex", "legacy-bob", "192.0.2.72")], 2))
            .EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(10);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var aliceBefore = await ErasureTests.RecordsAsync(dpo, "principal=legacy-alice");

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "legacy-alice" });
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var bob = await ErasureTests.RecordsAsync(dpo, "principal=legacy-bob");
        var v1Erased = Assert.Single(await ErasureTests.RecordsAsync(dpo, "id=v1-0"));
        var erasure = Assert.Single(await ErasureTests.RecordsAsync(dpo, "decision=erased")).GetProperty("record").GetProperty("data").GetProperty("attributes");
        var prunedIndices = (await ErasureTests.RecordsAsync(dpo, "")).Where(r => r.GetProperty("pruned").GetBoolean())
            .Select(r => r.GetProperty("index").GetInt64()).Order().ToList();
        var after = await writer.WaitForCheckpointAsync(11);
        var newKey = NoteVerifier.Parse(File.ReadAllText(writer.KeyPath + ".pub").Trim());
        using var anonymous = writer.Client();
        var export = (await dpo.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n').Select(System.Text.Encoding.UTF8.GetBytes).ToList();
        var offline = LogVerifier.VerifyExport(export, after, [newKey]);
        var inclusion = await ErasureTests.ProofAsync(dpo, "/audit/proof/inclusion?index=0&size=11");
        var root = SignedNote.Open(after, [newKey]).Checkpoint!.Root;
        await writer.StopAppAsync();
        var hits = StoreScan.Find(directory, StoreScan.Encodings("principal", "legacy-alice").Concat(StoreScan.Encodings("client IP", "192.0.2.71")));
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        var report = LogVerifier.VerifyStore(store, [OldKey, newKey]);

        // Before: four v1 records (plaintext column) and one v2 record (blind index) found by the same search.
        Assert.Equal(5, aliceBefore.Count);
        Assert.Equal(4, aliceBefore.Count(r => r.GetProperty("record").GetProperty("dataschema").GetString() == "urn:edge:audit:record:1"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, answer.GetProperty("records").GetInt64());
        // The erasure's record names the v1 records it pruned, so verify tells them from records pruned by hand.
        Assert.Equal(4, prunedIndices.Count);
        Assert.Equal("4", erasure.GetProperty("pruned").GetString());
        Assert.Equal(Edge.Audit.Verification.PruneCoverage.Format(prunedIndices), erasure.GetProperty("prunedIndices").GetString());
        // v1 records carry the principal inside the leaf, so erasure prunes them to their leaf hash.
        Assert.True(v1Erased.GetProperty("pruned").GetBoolean());
        Assert.Equal(JsonValueKind.Null, v1Erased.GetProperty("leaf").ValueKind);
        Assert.Equal(JsonValueKind.Null, v1Erased.GetProperty("record").ValueKind);
        Assert.True(Rfc9162.VerifyInclusion(0, 11, Convert.FromBase64String(v1Erased.GetProperty("leafHash").GetString()!), inclusion, root));
        Assert.Equal(5, bob.Count);
        Assert.All(bob, r => Assert.Equal("legacy-bob", r.GetProperty("principal").GetString()));
        Assert.True(offline.Valid, offline.Problem);
        Assert.Equal(4, offline.PrunedRecords);
        Assert.Empty(hits);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(11, report.RecordsChecked);
        Assert.Equal(4, report.PrunedRecords);
        SqliteConnection.ClearAllPools();
    }
}
