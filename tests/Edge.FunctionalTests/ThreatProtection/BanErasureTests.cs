using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Tests;
using Edge.AuditWriter.Tests.Protection;
using Edge.Testing;

namespace Edge.FunctionalTests.ThreatProtection;

/// <summary>
/// Ban records under erasure, with a real edge (bans kept in process, clients sent as X-Forwarded-For through the trusted
/// loopback proxy) and a real audit writer: the ban key and the banned client's address are sealed in the record's
/// subject, so erasing that client makes its ban and lift records unreadable while every proof still verifies.
/// </summary>
public sealed class BanErasureTests : IAsyncLifetime
{
    private const string Erased = "203.0.113.7";
    private const string Kept = "203.0.113.8";
    private const string DaveKey = "dave-key-0123456789";

    private Backend _backend = null!;
    private WriterFixture _writer = null!;
    private EdgeHost _edge = null!;

    public async Task InitializeAsync()
    {
        _backend = Backend.Start();
        _writer = await WriterFixture.StartAsync();
        _edge = await EdgeHost.StartAsync(
            ProxyJson.Create(
                _backend.Url,
                new Dictionary<string, object>
                {
                    ["keys"] = ProxyJson.Route("/k/{**rest}", new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" }),
                    ["writes"] = ProxyJson.Route(
                        "/w/{**rest}",
                        new Dictionary<string, string> { ["EdgeTenant"] = "Header", ["Name"] = "X-Tenant-ID" },
                        new Dictionary<string, string> { ["EdgeAuthenticate"] = "partner-keys" },
                        new Dictionary<string, string> { ["EdgeRequire"] = "orders.write" }),
                },
                new
                {
                    Authentication = new Dictionary<string, object>
                    {
                        ["partner-keys"] = new
                        {
                            Type = "ApiKey",
                            Keys = new[] { new { Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(DaveKey))), Principal = "dave", Tenant = "acme" } },
                        },
                    },
                    Roles = new Dictionary<string, string[]> { ["Writer"] = ["orders.write"] },
                    ThreatProtection = new
                    {
                        Rules = new Dictionary<string, object>
                        {
                            ["guessing"] = new { On = "AuthenticationFailed", Key = "{ip}", Threshold = 3, Window = "00:01:00", BanFor = "00:10:00" },
                            ["abuse"] = new { On = "Forbidden", Key = "{tenant}:{principal}", Threshold = 3, Window = "00:01:00", BanFor = "00:10:00" },
                        },
                    },
                }),
            new Dictionary<string, string?>
            {
                ["Edge:TrustedProxies"] = "127.0.0.1/32",
                ["Edge:Audit:WriterUrl"] = _writer.BaseAddress.ToString(),
            });
    }

    public async Task DisposeAsync()
    {
        await _edge.DisposeAsync();
        await _writer.DisposeAsync();
        _backend.Dispose();
    }

    [Fact]
    public async Task Erasure_AddressOfARuleBannedClient_BanAndLiftRecordsUnreadableOtherBanReadableProofsVerify()
    {
        await GuessUntilBannedAsync(Erased);
        await GuessUntilBannedAsync(Kept);
        using (var lifted = await _edge.Management.DeleteAsync("/edge/bans/" + Erased))
        {
            Assert.Equal(HttpStatusCode.NoContent, lifted.StatusCode);
        }

        using var dpo = _writer.Client(WriterFixture.GlobalEraserKey);
        var before = await WaitForRecordsAsync(dpo, rs => Bans(rs, AuditEventTypes.ThreatUnbanned).Any() && Bans(rs, AuditEventTypes.ThreatBanned).Count() == 2);
        var banBefore = Assert.Single(Bans(before, AuditEventTypes.ThreatBanned), r => BanKey(r) == Erased);
        var liftBefore = Assert.Single(Bans(before, AuditEventTypes.ThreatUnbanned));
        var subjectBefore = Record(banBefore).GetProperty("data").GetProperty("subject");
        var leafBefore = Encoding.UTF8.GetString(Convert.FromBase64String(banBefore.GetProperty("leaf").GetString()!));

        using var erasure = await dpo.PostAsJsonAsync("/audit/erasure", new { clientIp = Erased });
        var after = await RecordsAsync(dpo);
        var export = await dpo.GetStringAsync("/audit/export?format=ndjson");
        var csv = await dpo.GetStringAsync("/audit/export?format=csv");
        var page = await dpo.GetStringAsync("/audit/records?limit=1000");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var storeFiles = new[] { _writer.StorePath, _writer.StorePath + "-wal" }.Where(File.Exists).Select(File.ReadAllBytes).ToList();

        // Before the erasure: readable through the API, sealed in the leaf, no key in the attributes.
        Assert.Equal(Erased, subjectBefore.GetProperty("clientIp").GetString());
        Assert.Equal("aes-256-gcm", subjectBefore.GetProperty("protection").GetString());
        Assert.False(Record(banBefore).GetProperty("data").GetProperty("attributes").TryGetProperty("key", out _));
        Assert.Equal("guessing", Record(banBefore).GetProperty("data").GetProperty("attributes").GetProperty("rule").GetString());
        Assert.Equal("AuthenticationFailed", Record(banBefore).GetProperty("data").GetProperty("attributes").GetProperty("reason").GetString());
        Assert.Equal(Erased, BanKey(liftBefore));
        Assert.DoesNotContain(Erased, leafBefore, StringComparison.Ordinal);

        // After: the erased client's ban and lift read erased, the other client's ban is untouched.
        Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        foreach (var id in new[] { Id(banBefore), Id(liftBefore) })
        {
            var record = Record(after.Single(r => Id(r) == id));
            Assert.Equal("{\"protection\":\"erased\"}", record.GetProperty("data").GetProperty("subject").GetRawText());
        }

        var kept = Assert.Single(Bans(after, AuditEventTypes.ThreatBanned), r => BanKey(r) == Kept);
        Assert.Equal(Kept, Record(kept).GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Contains(Kept, page, StringComparison.Ordinal);
        Assert.DoesNotContain(Erased, page, StringComparison.Ordinal);
        Assert.DoesNotContain(Erased, export, StringComparison.Ordinal);
        Assert.DoesNotContain(Erased, csv, StringComparison.Ordinal);
        Assert.NotEmpty(storeFiles);
        Assert.All(storeFiles, bytes => Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Erased))));

        // The erased records keep their committed bytes: their inclusion proofs and the whole log still verify.
        var size = after.Max(r => r.GetProperty("index").GetInt64()) + 1;
        var note = await _writer.WaitForCheckpointAsync(size);
        using var anonymous = _writer.Client();
        var key = NoteVerifier.Parse((await anonymous.GetStringAsync("/audit/key")).Split('\n')[0]);
        var signed = SignedNote.Open(note, [key]);
        Assert.True(signed.Valid);
        foreach (var id in new[] { Id(banBefore), Id(liftBefore) })
        {
            var record = after.Single(r => Id(r) == id);
            var index = record.GetProperty("index").GetInt64();
            var leaf = Convert.FromBase64String(record.GetProperty("leaf").GetString()!);
            var proof = JsonDocument.Parse(await dpo.GetStringAsync($"/audit/proof/inclusion?index={index}&size={size}")).RootElement
                .GetProperty("proof").EnumerateArray().Select(h => Convert.FromBase64String(h.GetString()!)).ToList();
            Assert.Equal(before.Single(r => Id(r) == id).GetProperty("leaf").GetString(), record.GetProperty("leaf").GetString());
            Assert.True(Rfc9162.VerifyInclusion(index, size, Rfc9162.LeafHash(leaf), proof, signed.Checkpoint!.Root));
        }

        using (var store = AuditStore.OpenReadOnly(_writer.StorePath))
        {
            var report = LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
        }

        var lines = export.TrimEnd('\n').Split('\n').Select(Encoding.UTF8.GetBytes).ToList();
        var offline = LogVerifier.VerifyExport(lines, note, [key]);
        Assert.True(offline.Valid, offline.Problem);
    }

    [Fact]
    public async Task Erasure_PrincipalWhoseRefusalsStartedABan_BanRecordUnreadable()
    {
        const string address = "198.51.100.44";
        for (var i = 0; i < 3; i++)
        {
            using var refused = await SendAsync(address, DaveKey, "/w/" + i);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        using (var blocked = await SendAsync(address, DaveKey, "/w/3"))
        {
            Assert.Contains("client_blocked", await blocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var dpo = _writer.Client(WriterFixture.GlobalEraserKey);
        var before = await WaitForRecordsAsync(dpo, rs => Bans(rs, AuditEventTypes.ThreatBanned).Any());
        var ban = Assert.Single(Bans(before, AuditEventTypes.ThreatBanned));
        var subject = Record(ban).GetProperty("data").GetProperty("subject");

        using var erasure = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "dave", tenant = "acme" });
        var erased = Record((await RecordsAsync(dpo)).Single(r => Id(r) == Id(ban)));
        var page = await dpo.GetStringAsync("/audit/records?limit=1000");
        var export = await dpo.GetStringAsync("/audit/export?format=ndjson");

        Assert.Equal("dave", subject.GetProperty("principal").GetString());
        Assert.Equal(address, subject.GetProperty("clientIp").GetString());
        Assert.Equal("acme:dave", subject.GetProperty("banKey").GetString());
        Assert.Equal("acme", Record(ban).GetProperty("tenant").GetString());
        Assert.Equal("abuse", Record(ban).GetProperty("data").GetProperty("attributes").GetProperty("rule").GetString());
        Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        Assert.Equal("{\"protection\":\"erased\"}", erased.GetProperty("data").GetProperty("subject").GetRawText());
        Assert.Equal("acme", erased.GetProperty("tenant").GetString());
        Assert.DoesNotContain("dave", page, StringComparison.Ordinal);
        Assert.DoesNotContain(address, page, StringComparison.Ordinal);
        Assert.DoesNotContain("dave", export, StringComparison.Ordinal);
        Assert.DoesNotContain(address, export, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erasure_PrincipalNamedByAManualBan_BanRecordUnreadable()
    {
        using (var added = await _edge.Management.PostAsJsonAsync("/edge/bans", new { key = "acme:mallory", @for = "00:10:00", reason = "mallory's incident", principal = "mallory", tenant = "acme" }))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        using var dpo = _writer.Client(WriterFixture.GlobalEraserKey);
        var before = await WaitForRecordsAsync(dpo, rs => Bans(rs, AuditEventTypes.ThreatBanned).Any());
        var ban = Assert.Single(Bans(before, AuditEventTypes.ThreatBanned));
        var subject = Record(ban).GetProperty("data").GetProperty("subject");

        using var erasure = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "mallory", tenant = "acme" });
        var page = await dpo.GetStringAsync("/audit/records?limit=1000");
        var export = await dpo.GetStringAsync("/audit/export?format=ndjson");

        Assert.Equal("mallory", subject.GetProperty("principal").GetString());
        Assert.Equal("acme:mallory", subject.GetProperty("banKey").GetString());
        Assert.Equal("mallory's incident", subject.GetProperty("banReason").GetString());
        Assert.Equal("acme", Record(ban).GetProperty("tenant").GetString());
        Assert.Equal(HttpStatusCode.OK, erasure.StatusCode);
        Assert.DoesNotContain("mallory", page, StringComparison.Ordinal);
        Assert.DoesNotContain("mallory", export, StringComparison.Ordinal);
    }

    private async Task GuessUntilBannedAsync(string client)
    {
        for (var i = 0; i < 3; i++)
        {
            using var refused = await SendAsync(client, "guessed-key-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var blocked = await SendAsync(client, "guessed-key-3");
        Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(string client, string apiKey, string path = "/k/1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("X-Api-Key", apiKey);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        request.Headers.TryAddWithoutValidation("X-Tenant-ID", "acme");
        return await _edge.Client.SendAsync(request);
    }

    private static async Task<List<JsonElement>> RecordsAsync(HttpClient client) =>
        [.. JsonDocument.Parse(await client.GetStringAsync("/audit/records?limit=1000")).RootElement.GetProperty("records").EnumerateArray()];

    /// <summary>The records as the read API shows them, once <paramref name="done"/> holds (every request's record is stored by then too).</summary>
    private static async Task<List<JsonElement>> WaitForRecordsAsync(HttpClient client, Func<List<JsonElement>, bool> done)
    {
        List<JsonElement> records = [];
        for (var attempt = 0; attempt < 150; attempt++)
        {
            records = await RecordsAsync(client);
            if (done(records))
            {
                return records;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The writer's {records.Count} records did not reach the expected state within 15 s.");
    }

    private static string Id(JsonElement row) => row.GetProperty("id").GetString()!;

    private static JsonElement Record(JsonElement row) => row.GetProperty("record");

    private static IEnumerable<JsonElement> Bans(List<JsonElement> rows, string type) =>
        rows.Where(r => Record(r).ValueKind == JsonValueKind.Object && Record(r).GetProperty("type").GetString() == type);

    private static string? BanKey(JsonElement row) =>
        Record(row).GetProperty("data").GetProperty("subject").TryGetProperty("banKey", out var key) ? key.GetString() : null;
}
