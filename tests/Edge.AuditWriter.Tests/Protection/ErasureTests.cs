using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.AuditWriter.Log;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Protection;

public sealed class ErasureTests
{
    private const string Erased = "erin.erasable@example.test";
    private const string ErasedIp = "203.0.113.77";
    private const string Kept = "kim.kept@example.test";
    private const string KeptIp = "198.51.100.23";

    internal static byte[] Leaf(string id, string tenant, string principal, string clientIp) =>
        AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id,
            Time = DateTimeOffset.UtcNow,
            Instance = "edge-test",
            Tenant = tenant,
            Decision = "allow",
            Route = "orders",
            Method = "GET",
            Path = "/orders/7",
            Status = 200,
            Subject = new AuditSubject { Principal = principal, ClientIp = clientIp },
        });

    [Fact]
    public async Task Erase_OneOfTwoSubjects_StoreFilesHoldNoTraceAndEveryProofStillVerifies()
    {
        await using var writer = await WriterFixture.StartAsync();
        // Record i: the erased subject when i is even (index 8 in another tenant), the kept one when odd.
        var leaves = Enumerable.Range(0, 10)
            .Select(i => i % 2 == 0 ? Leaf($"r{i}", i == 8 ? "globex" : "acme", Erased, ErasedIp) : Leaf($"r{i}", "acme", Kept, KeptIp))
            .ToList();
        (await writer.IngestAsync(leaves, 10)).EnsureSuccessStatusCode();
        var before = await writer.WaitForCheckpointAsync(10);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var erasedBefore = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}");
        var log = writer.Services.GetRequiredService<AuditLog>();
        var keys = SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased));
        var dataKeys = keys.Select(k => log.DataKey(k.Id)!).ToList();
        var secrets = StoreScan.Encodings("principal", Erased).Concat(StoreScan.Encodings("client IP", ErasedIp))
            .Concat(keys.Select(k => ($"wrapped data key {k.Id}", k.Wrapped)))
            .Concat(dataKeys.Select((k, i) => ($"data key {i}", k)))
            .ToList();
        var plaintextOnly = secrets.Where(s => !s.Item1.Contains("wrapped", StringComparison.Ordinal)).ToList();

        var plaintextBeforeErasure = StoreScan.Find(writer.Directory, plaintextOnly);
        // Controls: the scan does see the store's content (a leaf's path, the wrapped keys as long as they exist).
        var controlsBeforeErasure = StoreScan.Find(writer.Directory, StoreScan.Encodings("path", "/orders/7").Take(1).Concat(keys.Select(k => ($"wrapped {k.Id}", k.Wrapped))));
        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var hitsWhileRunning = StoreScan.Find(writer.Directory, secrets);

        // The subject was protected from the start: never plaintext in the store, even before erasure.
        Assert.Empty(plaintextBeforeErasure);
        Assert.Contains(controlsBeforeErasure, hit => hit.StartsWith("path", StringComparison.Ordinal));
        Assert.Equal(2, controlsBeforeErasure.Where(hit => hit.StartsWith("wrapped", StringComparison.Ordinal)).Select(hit => hit.Split(" in ")[0]).Distinct().Count());
        Assert.Equal(5, erasedBefore.Count);
        Assert.All(erasedBefore, r => Assert.Equal(ErasedIp, r.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString()));
        Assert.Equal(2, keys.Count);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Erased, answer.GetProperty("subject").GetString());
        Assert.Equal(5, answer.GetProperty("records").GetInt64());
        Assert.Empty(hitsWhileRunning);
        Assert.NotEmpty(StoreScan.Find(writer.Directory, StoreScan.Encodings("path", "/orders/7").Take(1)));
        Assert.Contains("audit.db", StoreScan.Files(writer.Directory));

        // Erased records: still there, same committed bytes, subject marked erased, no longer found by principal.
        Assert.Empty(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
        var r0 = Assert.Single(await RecordsAsync(dpo, "id=r0"));
        Assert.Equal("{\"protection\":\"erased\"}", r0.GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
        Assert.Equal(JsonValueKind.Null, r0.GetProperty("principal").ValueKind);
        Assert.False(r0.GetProperty("pruned").GetBoolean());
        Assert.Equal(erasedBefore.Single(r => r.GetProperty("id").GetString() == "r0").GetProperty("leaf").GetString(), r0.GetProperty("leaf").GetString());

        // The other subject is untouched: readable and searchable.
        var kept = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Kept)}");
        Assert.Equal(5, kept.Count);
        Assert.All(kept, r =>
        {
            var subject = r.GetProperty("record").GetProperty("data").GetProperty("subject");
            Assert.Equal(Kept, subject.GetProperty("principal").GetString());
            Assert.Equal(KeptIp, subject.GetProperty("clientIp").GetString());
            Assert.Equal(Kept, r.GetProperty("principal").GetString());
        });

        // The erasure is itself recorded, naming neither the subject nor its client IP.
        var erasure = Assert.Single(await RecordsAsync(dpo, "decision=erased"));
        var erasureLeaf = Encoding.UTF8.GetString(Convert.FromBase64String(erasure.GetProperty("leaf").GetString()!));
        var erasureRecord = erasure.GetProperty("record");
        Assert.Equal(AuditEventTypes.SubjectErased, erasureRecord.GetProperty("type").GetString());
        Assert.Equal("5", erasureRecord.GetProperty("data").GetProperty("attributes").GetProperty("records").GetString());
        Assert.Equal("dpo", erasureRecord.GetProperty("data").GetProperty("subject").GetProperty("principal").GetString());
        Assert.DoesNotContain(Erased, erasureLeaf, StringComparison.Ordinal);
        Assert.DoesNotContain(ErasedIp, erasureLeaf, StringComparison.Ordinal);

        // Proofs: the checkpoint signed before the erasure and the one after it, checked with RFC 9162 directly.
        var after = await writer.WaitForCheckpointAsync(11);
        using var anonymous = writer.Client();
        var key = NoteVerifier.Parse((await anonymous.GetStringAsync("/audit/key")).Split('\n')[0]);
        var signedBefore = SignedNote.Open(before, [key]);
        var signedAfter = SignedNote.Open(after, [key]);
        Assert.True(signedBefore.Valid && signedAfter.Valid);
        foreach (var record in erasedBefore)
        {
            var index = record.GetProperty("index").GetInt64();
            var leafNow = Convert.FromBase64String(Assert.Single(await RecordsAsync(dpo, "id=" + record.GetProperty("id").GetString())).GetProperty("leaf").GetString()!);
            var leafHash = Rfc9162.LeafHash(leafNow);
            var proofBefore = await ProofAsync(dpo, $"/audit/proof/inclusion?index={index}&size=10");
            Assert.True(Rfc9162.VerifyInclusion(index, 10, leafHash, proofBefore, signedBefore.Checkpoint!.Root));
            Assert.False(Rfc9162.VerifyInclusion(index, 10, Rfc9162.LeafHash([.. leafNow, 0x20]), proofBefore, signedBefore.Checkpoint!.Root));
            Assert.True(Rfc9162.VerifyInclusion(index, 11, leafHash, await ProofAsync(dpo, $"/audit/proof/inclusion?index={index}&size=11"), signedAfter.Checkpoint!.Root));
            Assert.Equal(Convert.ToBase64String(leafHash), record.GetProperty("leafHash").GetString());
        }

        Assert.True(Rfc9162.VerifyConsistency(10, 11, signedBefore.Checkpoint!.Root, signedAfter.Checkpoint!.Root, await ProofAsync(dpo, "/audit/proof/consistency?from=10&to=11")));

        // And with the project's verifier: the whole store, and an offline export against the latest checkpoint.
        using (var store = AuditStore.OpenReadOnly(writer.StorePath))
        {
            var report = LogVerifier.VerifyStore(store, [key]);
            Assert.True(report.Valid, report.Problem);
            Assert.Equal(11, report.RecordsChecked);
        }

        var export = (await dpo.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n').Select(Encoding.UTF8.GetBytes).ToList();
        var offline = LogVerifier.VerifyExport(export, after, [key]);
        Assert.True(offline.Valid, offline.Problem);

        // After the writer stops (SQLite checkpoints and removes its WAL on close), still nothing.
        await writer.StopAppAsync();
        Assert.Empty(StoreScan.Find(writer.Directory, secrets));
    }

    [Fact]
    public async Task Erase_ByClientIp_AnonymousRecordsOfThatAddressUnreadableOthersUntouched()
    {
        await using var writer = await WriterFixture.StartAsync();
        static byte[] Anonymous(string id, string tenant, string clientIp) => AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id, Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = tenant, Decision = "deny", Reason = "authentication_required",
            Route = "orders", Method = "GET", Path = "/orders/7", Status = 401, Subject = new AuditSubject { ClientIp = clientIp },
        });
        (await writer.IngestAsync(
            [Anonymous("a1", "acme", ErasedIp), Anonymous("a2", "globex", ErasedIp), Anonymous("k1", "acme", KeptIp), Leaf("p1", "acme", Kept, ErasedIp)], 4))
            .EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var keys = SubjectKeys(writer.StorePath, log.Keyring.BlindClientIp(ErasedIp));

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { clientIp = ErasedIp });
        using var again = await dpo.PostAsJsonAsync("/audit/erasure", new { clientIp = ErasedIp });
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var records = (await RecordsAsync(dpo, "")).ToDictionary(r => r.GetProperty("id").GetString()!);
        var erasure = (await RecordsAsync(dpo, "decision=erased"))[^1].GetProperty("record").GetProperty("data").GetProperty("attributes");

        Assert.Equal(2, keys.Count);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ErasedIp, answer.GetProperty("clientIp").GetString());
        Assert.Equal(2, answer.GetProperty("records").GetInt64());
        Assert.Equal(0, JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        foreach (var id in new[] { "a1", "a2" })
        {
            Assert.Equal("{\"protection\":\"erased\"}", records[id].GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
        }

        Assert.Equal(KeptIp, records["k1"].GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Equal(Kept, records["p1"].GetProperty("principal").GetString());
        Assert.Equal("client_ip", erasure.GetProperty("subjectKind").GetString());
        Assert.Empty(SubjectKeys(writer.StorePath, log.Keyring.BlindClientIp(ErasedIp)));
        Assert.Empty(StoreScan.Find(writer.Directory, keys.Select(k => ($"wrapped data key {k.Id}", k.Wrapped))));
    }

    [Fact]
    public async Task Erase_ByIpv4MappedClientIp_ErasesTheIpv4RecordsTheEdgeWrote()
    {
        await using var writer = await WriterFixture.StartAsync();
        static byte[] Anonymous(string id, string clientIp) => AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id, Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = "acme", Decision = "deny", Reason = "authentication_required",
            Route = "orders", Method = "GET", Path = "/orders/7", Status = 401, Subject = new AuditSubject { ClientIp = clientIp },
        });
        (await writer.IngestAsync([Anonymous("m1", "203.0.113.9"), Anonymous("m2", "203.0.113.10")], 2)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        // A dual-stack listener sees ::ffff:203.0.113.9; the edge records it as 203.0.113.9, and so must the erasure.
        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { clientIp = "::ffff:203.0.113.9" });
        var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var records = (await RecordsAsync(dpo, "")).ToDictionary(r => r.GetProperty("id").GetString()!);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("203.0.113.9", answer.GetProperty("clientIp").GetString());
        Assert.Equal(1, answer.GetProperty("records").GetInt64());
        Assert.Equal("{\"protection\":\"erased\"}", records["m1"].GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
        Assert.Equal("203.0.113.10", records["m2"].GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString());
    }

    [Fact]
    public async Task Erase_TenantScopedEraser_ErasesOnlyItsOwnTenant()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync(
            [Leaf("a1", "acme", Erased, ErasedIp), Leaf("g1", "globex", Erased, ErasedIp), Leaf("a2", "acme", Erased, ErasedIp), Leaf("g2", "globex", Erased, ErasedIp)], 4))
            .EnsureSuccessStatusCode();
        using var acmeDpo = writer.Client(WriterFixture.AcmeEraserKey);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var otherTenant = await acmeDpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased, tenant = "globex" });
        using var own = await acmeDpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
        var remaining = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}");

        Assert.Equal(HttpStatusCode.Forbidden, otherTenant.StatusCode);
        Assert.Equal("tenant_forbidden", JsonDocument.Parse(await otherTenant.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(2, JsonDocument.Parse(await own.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        Assert.Equal(["g2", "g1"], remaining.Select(r => r.GetProperty("id").GetString()));
        Assert.All(remaining, r => Assert.Equal(Erased, r.GetProperty("principal").GetString()));
        var erasure = Assert.Single(await RecordsAsync(acmeDpo, "decision=erased"));
        Assert.Equal("acme", erasure.GetProperty("tenant").GetString());
    }

    [Theory]
    [InlineData(null, "{\"subject\":\"x\"}", 401, "unauthenticated")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":42}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"why\":\"y\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"subject\":\"y\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "[\"x\"]", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "not json", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"\\ud800\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"tenant\":\"a\\udc00\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"\\ud800\":\"x\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"clientIp\":\"not an address\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"clientIp\":\"2001:DB8::1\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"clientIp\":\"192.0.2.7\",\"subject\":\"x\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"tenant\":\"../../x\"}", 400, "invalid_erasure")] // before: 200 records 0, and the name in the erasure record
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"tenant\":\"ac me\"}", 400, "invalid_erasure")]
    [InlineData(WriterFixture.GlobalEraserKey, "{\"subject\":\"x\",\"tenant\":\"..\"}", 400, "invalid_erasure")]
    public async Task Erase_BadRequestOrCaller_IsRefusedWithProblemAndRecordsNothing(string? apiKey, string body, int status, string code)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client(apiKey);

        using var response = await client.PostAsync("/audit/erasure", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(0, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/json; charset=utf-16")] // read as UTF-8 all the same before
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData(null)]
    public async Task Erase_BodyNotDeclaredJson_Is415AndErasesNothing(string? contentType)
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"subject\":\"{Erased}\"}}"));
        if (contentType is not null)
        {
            body.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var response = await dpo.PostAsync("/audit/erasure", body);

        // Before, the body was read as JSON whatever it declared: 200 and the subject erased.
        await AssertRefusedAndNothingErasedAsync(writer, dpo, response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    /// <summary>The answer is problem+json with <paramref name="code"/>; the one record ingested is still readable and nothing was recorded.</summary>
    private static async Task AssertRefusedAndNothingErasedAsync(WriterFixture writer, HttpClient dpo, HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(Erased, Assert.Single(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}")).GetProperty("principal").GetString());
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    [Theory]
    [InlineData("?tenant=acme")] // before: ignored, so the subject was erased in every tenant (globex too)
    [InlineData("?subject=someone.else%40example.test")]
    [InlineData("?dryRun=true")]
    public async Task Erase_QueryParameter_Is400InvalidFilterAndErasesNothing(string query)
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("a1", "acme", Erased, ErasedIp), Leaf("g1", "globex", Erased, ErasedIp)], 2)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var response = await dpo.PostAsJsonAsync("/audit/erasure" + query, new { subject = Erased });
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("invalid_filter", problem.GetProperty("code").GetString());
        Assert.Equal(query[1..query.IndexOf('=', StringComparison.Ordinal)], problem.GetProperty("errors")[0].GetProperty("parameter").GetString());
        Assert.Equal(2, (await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}")).Count);
        Assert.Equal(2, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    [Fact]
    public async Task Erase_MalformedChunkedBody_Is400BodyInvalidNot500AndErasesNothing()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        // Before: Kestrel's framing error from the body read surfaced as 500 internal_error with a stack trace.
        var (head, body) = await Ingest.IngestEndpointTests.RawAsync(writer, "POST /audit/erasure HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + $"X-Api-Key: {WriterFixture.GlobalEraserKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", head, StringComparison.Ordinal);
        Assert.Equal("body_invalid", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal(Erased, Assert.Single(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}")).GetProperty("principal").GetString());
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Erase_BodyOver4KiB_Is413BodyTooLargeAndErasesNothing(bool chunked)
    {
        // Before: 400 invalid_erasure, as if the JSON were wrong, and the limit was written nowhere.
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var bytes = Encoding.UTF8.GetBytes($"{{\"subject\":\"{Erased}\"{new string(' ', 4096)}}}");
        using HttpContent body = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/audit/erasure") { Content = body };
        request.Headers.TransferEncodingChunked = chunked;

        using var response = await dpo.SendAsync(request);

        await AssertRefusedAndNothingErasedAsync(writer, dpo, response, HttpStatusCode.RequestEntityTooLarge, "body_too_large");
    }

    [Fact]
    public async Task Erase_BodyOfExactly4KiB_IsRead()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var json = $"{{\"subject\":\"{Erased}\"}}";
        var bytes = Encoding.UTF8.GetBytes(json[..^1] + new string(' ', 4096 - json.Length) + "}");
        Assert.Equal(4096, bytes.Length);

        using var response = await dpo.PostAsync("/audit/erasure", new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Erase_JsonWithCharset_IsAccepted()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var response = await dpo.PostAsync("/audit/erasure", new StringContent($"{{\"subject\":\"{Erased}\"}}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json; charset=utf-8", response.RequestMessage!.Content!.Headers.ContentType!.ToString());
        Assert.Empty(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
    }

    [Fact]
    public async Task Erase_CallerWithoutErasePermission_403RecordedAsRefusedNamingTheCallerNotTheSubject()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        // Before, the refusal left no trace: an unauthorised attempt to erase is what a compliance review looks for.
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("missing_permission", problem.GetProperty("code").GetString());
        var refused = Assert.Single(await RecordsAsync(auditor, "decision=refused"));
        var record = refused.GetProperty("record");
        var data = record.GetProperty("data");
        Assert.Equal(AuditEventTypes.ErasureRefused, record.GetProperty("type").GetString());
        Assert.Equal("erasure", data.GetProperty("step").GetString());
        Assert.Equal("missing_permission", data.GetProperty("reason").GetString());
        Assert.Equal(403, data.GetProperty("status").GetInt32());
        Assert.Equal("compliance", data.GetProperty("subject").GetProperty("principal").GetString());
        Assert.Equal("ops", refused.GetProperty("tenant").GetString());
        Assert.DoesNotContain(Erased, Encoding.UTF8.GetString(Convert.FromBase64String(refused.GetProperty("leaf").GetString()!)), StringComparison.Ordinal);
        Assert.Single(await RecordsAsync(auditor, $"principal={Uri.EscapeDataString(Erased)}"));
    }

    [Fact]
    public async Task Erase_OtherTenantByTenantScopedEraser_403RecordedAsRefusedInTheCallersTenant()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("g1", "globex", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var acmeDpo = writer.Client(WriterFixture.AcmeEraserKey);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var response = await acmeDpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased, tenant = "globex" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("tenant_forbidden", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        // In the caller's tenant: globex's auditors must not read acme's principal, acme's (and the compliance team) see the attempt.
        var refused = Assert.Single(await RecordsAsync(acmeDpo, "decision=refused"));
        Assert.Equal("acme", refused.GetProperty("tenant").GetString());
        var data = refused.GetProperty("record").GetProperty("data");
        Assert.Equal("tenant_forbidden", data.GetProperty("reason").GetString());
        Assert.Equal("acme-dpo", data.GetProperty("subject").GetProperty("principal").GetString());
        Assert.Equal("globex", data.GetProperty("attributes").GetProperty("requestedTenant").GetString());
        Assert.Equal("principal", data.GetProperty("attributes").GetProperty("subjectKind").GetString());
        Assert.Single(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
    }

    [Theory]
    [InlineData(WriterFixture.GlobalEraserKey, "dpo", null)]
    [InlineData(WriterFixture.GlobalEraserKey, "dpo", "acme")]
    [InlineData(WriterFixture.AcmeEraserKey, "acme-dpo", null)]
    public async Task Erase_OwnPrincipal_403ErasureSelfRecordedAndNothingErased(string key, string principal, string? tenant)
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("s1", "acme", principal, ErasedIp), Leaf("s2", "ops", principal, ErasedIp)], 2)).EnsureSuccessStatusCode();
        using var caller = writer.Client(key);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var before = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(principal)}");

        using var response = tenant is null
            ? await caller.PostAsJsonAsync("/audit/erasure", new { subject = principal })
            : await caller.PostAsJsonAsync("/audit/erasure", new { subject = principal, tenant });

        // Before, 200: an eraser could erase the trail of its own actions, its earlier erasures' records included.
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("erasure_self", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(before.Count, (await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(principal)}")).Count(r => r.GetProperty("record").GetProperty("type").GetString() == AuditEventTypes.Request));
        Assert.Empty(await RecordsAsync(dpo, "decision=erased"));
        var refused = Assert.Single(await RecordsAsync(dpo, "decision=refused"));
        Assert.Equal("erasure_self", refused.GetProperty("record").GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal(principal, refused.GetProperty("principal").GetString());
    }

    [Fact]
    public async Task Erase_CallersOwnConnectionAddress_403ErasureSelfRecordedAndNothingErased()
    {
        const string loopback = "127.0.0.2";
        await using var writer = await WriterFixture.StartAsync();
        static byte[] Anonymous(string id, string clientIp) => AuditRecordSerializer.Serialize(new AuditRecord
        {
            Id = id, Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = "acme", Decision = "deny", Reason = "not_found",
            Route = "orders", Method = "GET", Path = "/admin", Status = 404, Subject = new AuditSubject { ClientIp = clientIp },
        });
        (await writer.IngestAsync([Anonymous("a1", loopback)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        using var caller = LoopbackClient(writer, loopback, WriterFixture.GlobalEraserKey);

        using var response = await caller.PostAsJsonAsync("/audit/erasure", new { clientIp = loopback });

        // Before, 200: the probes an eraser made from its own machine were its own trail, erased by itself.
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("erasure_self", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(loopback, Assert.Single(await RecordsAsync(dpo, "id=a1")).GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString());
        Assert.Empty(await RecordsAsync(dpo, "decision=erased"));
        var refused = Assert.Single(await RecordsAsync(dpo, "decision=refused")).GetProperty("record").GetProperty("data");
        Assert.Equal("erasure_self", refused.GetProperty("reason").GetString());
        Assert.Equal("client_ip", refused.GetProperty("attributes").GetProperty("subjectKind").GetString());
        Assert.DoesNotContain(loopback, refused.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Erase_ClientIpOtherThanTheCallersConnection_Erases()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var dpo = LoopbackClient(writer, "127.0.0.2", WriterFixture.GlobalEraserKey);

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { clientIp = "127.0.0.3" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>A client whose connection to the writer (on 127.0.0.1) comes from the loopback address <paramref name="source"/>.</summary>
    private static HttpClient LoopbackClient(WriterFixture writer, string source, string apiKey)
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, writer.BaseAddress.Port), token);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = writer.BaseAddress };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    [Fact]
    public async Task Erase_RefusalsBeyondThePerCallerLimit_429WithRetryAfterOneRecordAndTheRestCounted()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var writer = await WriterFixture.StartAsync(time: clock);
        using var viewer = writer.Client(WriterFixture.ViewerKey);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        // The documented bound: ten recorded refusals per caller a minute.
        const int limit = 10;
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < limit + 5; i++)
        {
            answers.Add(await viewer.PostAsJsonAsync("/audit/erasure", new { subject = Kept }));
        }

        clock.Advance(TimeSpan.FromMinutes(1));
        using var afterTheWindow = await viewer.PostAsJsonAsync("/audit/erasure", new { subject = Kept });
        using var otherCaller = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "dpo" });
        var refused = await RecordsAsync(dpo, "decision=refused");
        var scrape = await writer.Client().GetStringAsync("/metrics");

        // Before, every refusal appended a record: any signed-in caller could grow the tamper-evident log without bound.
        Assert.All(answers.Take(limit), a => Assert.Equal(HttpStatusCode.Forbidden, a.StatusCode));
        foreach (var limited in answers.Skip(limit))
        {
            Assert.Equal((HttpStatusCode)429, limited.StatusCode);
            Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
            Assert.Equal("erasure_rate_limited", JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
            Assert.Equal("60", limited.Headers.RetryAfter?.ToString());
        }

        Assert.Equal(HttpStatusCode.Forbidden, afterTheWindow.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, otherCaller.StatusCode);
        var byViewer = refused.Where(r => r.GetProperty("principal").GetString() == "viewer").Select(r => r.GetProperty("record").GetProperty("data")).ToList();
        Assert.Equal(limit + 2, byViewer.Count);
        var marker = Assert.Single(byViewer, d => d.GetProperty("reason").GetString() == "erasure_rate_limited");
        Assert.Equal(429, marker.GetProperty("status").GetInt32());
        Assert.Single(refused, r => r.GetProperty("principal").GetString() == "dpo");
        Assert.Matches(new System.Text.RegularExpressions.Regex(@"^edge_audit_erasure_refusals_unrecorded_total(\{[^}]*\})? 4( |$)", System.Text.RegularExpressions.RegexOptions.Multiline), scrape);
        answers.ForEach(a => a.Dispose());
    }

    [Fact]
    public async Task Erase_OwnPrincipalByAnotherEraser_Erases()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("s1", "acme", "acme-dpo", ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "acme-dpo" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
    }

    [Fact]
    public async Task Erase_UnknownSubject_AnswersZeroRecordsAndIsStillRecorded()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("k1", "acme", Kept, KeptIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using var response = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = "nobody@example.test" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        Assert.Single(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Kept)}"));
        Assert.Single(await RecordsAsync(dpo, "decision=erased"));
    }

    [Fact]
    public async Task Erase_StoreFileMovedAwayWhileRunning_503StoreUnavailableAndNothingErased()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("e1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var away = writer.StorePath + ".moved";

        // Ingest and /readyz refuse while the file is not at StorePath; the erasure answered 200 into the file that a
        // restore from backup would then replace, keys and tombstone included.
        File.Move(writer.StorePath, away);
        using var refused = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
        File.Move(away, writer.StorePath);
        var stillReadable = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}");
        using var retried = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        Assert.Equal("store_unavailable", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Single(stillReadable);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(1, JsonDocument.Parse(await retried.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        Assert.Equal(2, log.Size);
    }

    [Fact]
    public async Task Erase_WhileAReaderHoldsAnOldSnapshot_Answers503PendingThenCompletesOnRetry()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("e1", "acme", Erased, ErasedIp), Leaf("k1", "acme", Kept, KeptIp)], 2)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var wrapped = SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased)).Select(k => ("wrapped key", k.Wrapped)).ToList();

        HttpResponseMessage pending;
        using (new OldSnapshot(writer.StorePath))
        {
            // A read transaction that has read keeps its snapshot, which the WAL must not be truncated under.
            pending = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
        }

        using var retry = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, pending.StatusCode);
        var problem = JsonDocument.Parse(await pending.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("erasure_pending", problem.GetProperty("code").GetString());
        // As the writer's other 503s: a client (the viewer, a script) learns when to repeat the request.
        Assert.Equal(TimeSpan.FromSeconds(1), pending.Headers.RetryAfter?.Delta);
        // The retry answers 0 (the keys are gone already): the first answer is the only one to say how many.
        Assert.Contains("(1 records erased)", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(0, JsonDocument.Parse(await retry.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetInt64());
        Assert.Empty(await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}"));
        Assert.Empty(StoreScan.Find(writer.Directory, wrapped.Concat(StoreScan.Encodings("principal", Erased))));
        pending.Dispose();
    }

    [Fact]
    public async Task Erase_WhileTheWalCannotBeTruncated_TombstoneAndErasureRecordCommitTogether()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("e1", "acme", Erased, ErasedIp), Leaf("k1", "acme", Kept, KeptIp)], 2)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        (long Tombstones, long ErasureRecords) committed;
        Task<HttpResponseMessage> erasure;
        using (new OldSnapshot(writer.StorePath))
        {
            // A reader's old snapshot keeps the WAL from being truncated: the erasure waits there, as behind a long export.
            erasure = dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });

            // What a writer stopped at any moment from here on leaves behind: one snapshot of both tables, taken as soon as
            // the erasure's tombstone is committed.
            do
            {
                await Task.Delay(20);
                committed = TombstonesAndErasureRecords(writer.StorePath);
            }
            while (committed.Tombstones == 0 && !erasure.IsCompleted);
        }

        // 200, or 503 erasure_pending when the snapshot outlived the truncation's wait: either way the erasure is recorded.
        using var answer = await erasure;

        Assert.Equal((1L, 1L), committed);
        Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable });
        Assert.Equal((1L, 1L), TombstonesAndErasureRecords(writer.StorePath));
        using var verify = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.True(LogVerifier.VerifyStore(verify, writer.Services.GetRequiredService<AuditLog>().Verifiers).Valid);
    }

    [Fact]
    public async Task Erase_PendingThenWriterRestartedWithoutARepeat_StoreFilesHoldNoTrace()
    {
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([Leaf("e1", "acme", Erased, ErasedIp), Leaf("k1", "acme", Kept, KeptIp)], 2)).EnsureSuccessStatusCode();
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var log = writer.Services.GetRequiredService<AuditLog>();
        var wrapped = SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased)).Select(k => ("wrapped key", k.Wrapped)).ToList();

        HttpResponseMessage pending;
        using (new OldSnapshot(writer.StorePath))
        {
            // The erasure cannot truncate the WAL under this snapshot (503 erasure_pending), and the writer stops before
            // anyone repeats it: a restart, a deployment, or a crash while the deleted key is still in the WAL.
            pending = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased });
            await writer.StopAppAsync();
        }

        await writer.StartAppAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, pending.StatusCode);
        Assert.Empty(StoreScan.Find(writer.Directory, wrapped.Concat(StoreScan.Encodings("principal", Erased))));
        pending.Dispose();
    }

    private static (long Tombstones, long ErasureRecords) TombstonesAndErasureRecords(string storePath)
    {
        using var connection = new SqliteConnection($"Data Source={storePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT COUNT(*) FROM erasures), (SELECT COUNT(*) FROM records WHERE decision = 'erased')";
        using var row = command.ExecuteReader();
        row.Read();
        return (row.GetInt64(0), row.GetInt64(1));
    }

    [Fact]
    public async Task Ingest_KeyCacheOff_LaterBatchFindsTheStoredSubjectAndBothRecordsOpen()
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:SubjectKeyCacheSize=0"]);
        var log = writer.Services.GetRequiredService<AuditLog>();
        (await writer.IngestAsync([Leaf("k1", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();

        // Not cached: the second batch reads the subject row and unwraps its key from the store.
        (await writer.IngestAsync([Leaf("k2", "acme", Erased, ErasedIp)], 2)).EnsureSuccessStatusCode();

        await writer.WaitForCheckpointAsync(2);
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);
        var records = await RecordsAsync(dpo, $"principal={Uri.EscapeDataString(Erased)}");
        Assert.Equal(0, log.CachedSubjectKeys);
        Assert.Single(SubjectKeys(writer.StorePath, log.Keyring.BlindPrincipal(Erased)));
        Assert.Equal(["k1", "k2"], records.Select(r => r.GetProperty("record").GetProperty("id").GetString()).Order(StringComparer.Ordinal));
        Assert.All(records, r => Assert.Equal(ErasedIp, r.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("clientIp").GetString()));
    }

    [Fact]
    public async Task Erase_SubjectKeyCachedByAnEarlierBatch_NextRecordGetsANewKeyNeverTheErasedOne()
    {
        await using var writer = await WriterFixture.StartAsync();
        var log = writer.Services.GetRequiredService<AuditLog>();
        var blind = log.Keyring.BlindPrincipal(Erased);
        (await writer.IngestAsync([Leaf("c0", "acme", Erased, ErasedIp)], 1)).EnsureSuccessStatusCode();
        var erasedRow = Assert.Single(SubjectKeys(writer.StorePath, blind));
        var erasedKey = log.DataKey(erasedRow.Id)!;
        var cachedBeforeErasure = log.CachedSubjectKeys;
        using var dpo = writer.Client(WriterFixture.GlobalEraserKey);

        using (var erasure = await dpo.PostAsJsonAsync("/audit/erasure", new { subject = Erased }))
        {
            erasure.EnsureSuccessStatusCode();
        }

        (await writer.IngestAsync([Leaf("c1", "acme", Erased, ErasedIp)], 2)).EnsureSuccessStatusCode();

        Assert.Equal(1, cachedBeforeErasure);
        var newRow = Assert.Single(SubjectKeys(writer.StorePath, blind));
        // SQLite may give the new row the erased one's id; the key is what must differ.
        Assert.NotEqual(erasedRow.Wrapped, newRow.Wrapped);
        var c1 = Assert.Single(await RecordsAsync(dpo, "id=c1"));
        Assert.Equal(Erased, c1.GetProperty("record").GetProperty("data").GetProperty("subject").GetProperty("principal").GetString());
        var (_, openedWithErasedKey) = Edge.AuditWriter.Protection.SubjectProtector.Reveal(Convert.FromBase64String(c1.GetProperty("leaf").GetString()!), "c1", erasedKey);
        Assert.Null(openedWithErasedKey);
        Assert.Equal("{\"protection\":\"erased\"}", Assert.Single(await RecordsAsync(dpo, "id=c0")).GetProperty("record").GetProperty("data").GetProperty("subject").GetRawText());
    }

    internal static async Task<List<JsonElement>> RecordsAsync(HttpClient client, string query) =>
        JsonDocument.Parse(await client.GetStringAsync("/audit/records?limit=1000&" + query)).RootElement.GetProperty("records").EnumerateArray().ToList();

    internal static async Task<List<byte[]>> ProofAsync(HttpClient client, string url) =>
        JsonDocument.Parse(await client.GetStringAsync(url)).RootElement.GetProperty("proof").EnumerateArray()
            .Select(h => Convert.FromBase64String(h.GetString()!)).ToList();

    internal static List<(long Id, byte[] Wrapped)> SubjectKeys(string storePath, byte[] blind)
    {
        using var connection = new SqliteConnection($"Data Source={storePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, wrapped_key FROM subjects WHERE blind = $blind";
        command.Parameters.AddWithValue("$blind", blind);
        using var reader = command.ExecuteReader();
        var keys = new List<(long, byte[])>();
        while (reader.Read())
        {
            keys.Add((reader.GetInt64(0), (byte[])reader[1]));
        }

        return keys;
    }
}
