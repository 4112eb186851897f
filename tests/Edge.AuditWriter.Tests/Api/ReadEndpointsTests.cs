using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Merkle;
using Edge.Audit.Verification;

namespace Edge.AuditWriter.Tests.Api;

public sealed class ReadEndpointsTests
{
    private static async Task<WriterFixture> StartWithRecordsAsync(int count)
    {
        var writer = await WriterFixture.StartAsync();
        var leaves = Enumerable.Range(0, count)
            .Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex", i % 3 == 0 ? "deny" : "allow"))
            .ToList();
        using var response = await writer.IngestAsync(leaves, count);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(count);
        return writer;
    }

    /// <summary>What a global auditor gets for <paramref name="url"/> from a writer holding 4 records: asserted a 400 problem+json.</summary>
    private static async Task<JsonElement> BadRequestProblemAsync(string url)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Theory]
    [InlineData("/checkpoint")]
    [InlineData("/audit/checkpoint")]
    [InlineData("/audit/key")]
    [InlineData("/tile/0/000.p/4")]
    [InlineData("/readyz")]
    [InlineData("/ui/")]
    public async Task Head_WhatMonitorsAndWitnessesPoll_Returns200LikeGetWithoutABody(string path)
    {
        // MapGet took GET alone: curl -I or an uptime check's HEAD got 405 from a writer that was serving.
        await using var writer = await StartWithRecordsAsync(4);
        using var witness = writer.Client(WriterFixture.WitnessKey);
        using var get = await witness.GetAsync(path);

        using var head = await witness.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/audit/checkpoint")]
    [InlineData("/tile/0/000.p/4")]
    [InlineData("/readyz")]
    public async Task Delete_ReadOnlyEndpoint_Returns405AllowingGetAndHead(string path)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var witness = writer.Client(WriterFixture.WitnessKey);

        using var response = await witness.SendAsync(new HttpRequestMessage(HttpMethod.Delete, path));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["GET", "HEAD"], response.Content.Headers.Allow.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Records_RecordNestedAsDeepAsIngestTakes_IsListedNotA500()
    {
        // 64 levels, the most ingest's JSON reader takes: the root object, data, and 62 arrays inside it.
        const int arrays = 62;
        var deep = Encoding.UTF8.GetBytes(
            "{\"specversion\":\"1.0\",\"id\":\"deep\",\"source\":\"edge://e1\",\"type\":\"edge.request\",\"time\":\"2026-12-06T10:00:00Z\","
            + "\"tenant\":\"acme\",\"data\":{\"x\":" + new string('[', arrays) + new string(']', arrays) + "}}");
        await using var writer = await WriterFixture.StartAsync();
        (await writer.IngestAsync([WriterFixture.Leaf("plain", "acme"), deep], 2)).EnsureSuccessStatusCode();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync("/audit/records");
        var body = await response.Content.ReadAsStringAsync();

        // Before, the page was 500 internal_error: its records sit three levels down in the answer, past the serializer's
        // default depth of 64, so the newest page (and the viewer's first) failed for every auditor after one such record.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var records = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 }).RootElement.GetProperty("records");
        Assert.Equal(["deep", "plain"], records.EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(JsonValueKind.Array, records[0].GetProperty("record").GetProperty("data").GetProperty("x").ValueKind);
    }

    [Fact]
    public async Task Checkpoint_AfterIngest_IsSignedByPublishedKey()
    {
        await using var writer = await StartWithRecordsAsync(10);
        using var client = writer.Client();

        var note = await client.GetStringAsync("/audit/checkpoint");
        var key = NoteVerifier.Parse((await client.GetStringAsync("/audit/key")).Split('\n')[0]);
        var opened = SignedNote.Open(note, [key]);

        Assert.True(opened.Valid, opened.Error);
        Assert.Equal("test.edge/audit", opened.Checkpoint!.Origin);
        Assert.Equal(10, opened.Checkpoint.Size);
        Assert.Equal(File.ReadAllText(writer.KeyPath + ".pub").Trim(), key.ToString());
    }

    [Theory]
    [InlineData("/audit/records?limit=5")]
    [InlineData("/audit/export?format=csv")]
    [InlineData("/audit/export?format=ndjson")]
    [InlineData("/audit/session")]
    [InlineData("/audit/proof/inclusion?index=1&size=4")]
    [InlineData("/audit/records?decision=denied")] // a refusal too: it names what the caller asked for
    public async Task ReadEndpoints_BehindAnApiKey_AnsweredNoStore(string path)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(path);

        // Before, no Cache-Control: a shared cache between a compliance client and the writer could keep decrypted
        // principals and serve them, also after the subject's erasure.
        Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: {(int)response.StatusCode} Cache-Control {response.Headers.CacheControl}");
    }

    [Fact]
    public async Task Records_TenantAuditor_SeesOnlyOwnTenant()
    {
        await using var writer = await StartWithRecordsAsync(20);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);

        var page = JsonDocument.Parse(await acme.GetStringAsync("/audit/records?limit=100")).RootElement;
        var otherTenant = await acme.GetAsync("/audit/records?tenant=globex");

        var tenants = page.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("tenant").GetString()).ToList();
        Assert.Equal(10, tenants.Count);
        Assert.All(tenants, t => Assert.Equal("acme", t));
        Assert.Equal(HttpStatusCode.Forbidden, otherTenant.StatusCode);
        Assert.Contains("tenant_forbidden", await otherTenant.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_GlobalAuditorWithFiltersAndCursor_PagesNewestFirst()
    {
        await using var writer = await StartWithRecordsAsync(20);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var first = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records?decision=deny&limit=4")).RootElement;
        var next = first.GetProperty("next").GetString();
        var second = JsonDocument.Parse(await auditor.GetStringAsync($"/audit/records?decision=deny&limit=4&cursor={next}")).RootElement;

        var indexes = first.GetProperty("records").EnumerateArray().Concat(second.GetProperty("records").EnumerateArray())
            .Select(r => r.GetProperty("index").GetInt64()).ToList();
        Assert.Equal([18L, 15, 12, 9, 6, 3, 0], indexes);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
        var record = first.GetProperty("records")[0];
        Assert.Equal("deny", record.GetProperty("decision").GetString());
        Assert.Equal("orders", record.GetProperty("route").GetString());
        Assert.Equal(WriterFixture.Leaf("x", "acme").Length > 0, Convert.FromBase64String(record.GetProperty("leaf").GetString()!).Length > 0);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key", HttpStatusCode.Unauthorized)]
    [InlineData(WriterFixture.ViewerKey, HttpStatusCode.Forbidden)]
    public async Task Records_WithoutAuditorRole_IsRefusedWithProblem(string? apiKey, HttpStatusCode expected)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client(apiKey);

        using var response = await client.GetAsync("/audit/records");

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task UnknownPathAndWrongMethod_AnswerProblemWithStableCode()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client(WriterFixture.GlobalAuditorKey);

        using var unknown = await client.GetAsync("/audit/no-such-endpoint");
        using var wrongMethod = await client.DeleteAsync("/audit/records");

        Assert.Equal((HttpStatusCode.NotFound, "not_found"), (unknown.StatusCode, await CodeAsync(unknown)));
        Assert.Equal((HttpStatusCode.MethodNotAllowed, "method_not_allowed"), (wrongMethod.StatusCode, await CodeAsync(wrongMethod)));

        static async Task<string?> CodeAsync(HttpResponseMessage response)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var code = problem.RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
            Assert.Equal("urn:edge:problem:" + code, problem.RootElement.GetProperty("type").GetString());
            return code;
        }
    }

    [Fact]
    public async Task Proofs_FromApi_MatchTreeRebuiltFromExport()
    {
        await using var writer = await StartWithRecordsAsync(37);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var leaves = (await auditor.GetStringAsync("/audit/export?format=ndjson")).TrimEnd('\n').Split('\n')
            .Select(Encoding.UTF8.GetBytes).ToList();
        var tree = new MerkleTree();
        leaves.ForEach(l => tree.AppendLeafHash(MerkleHasher.HashLeaf(l)));

        var inclusion = await ProofAsync(auditor, "/audit/proof/inclusion?index=12&size=37");
        var consistency = await ProofAsync(auditor, "/audit/proof/consistency?from=13&to=37");
        var badRange = await auditor.GetAsync("/audit/proof/inclusion?index=40&size=37");

        Assert.Equal(tree.InclusionProof(12, 37).Select(Convert.ToBase64String), inclusion);
        Assert.Equal(tree.ConsistencyProof(13, 37).Select(Convert.ToBase64String), consistency);
        Assert.Equal(HttpStatusCode.BadRequest, badRange.StatusCode);
        Assert.Contains("invalid_proof_range", await badRange.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_NdjsonRoundTrip_VerifiesOfflineAgainstCheckpoint()
    {
        await using var writer = await StartWithRecordsAsync(25);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        using var anonymous = writer.Client();

        var export = await auditor.GetStringAsync("/audit/export?format=ndjson");
        var note = await anonymous.GetStringAsync("/audit/checkpoint");
        var key = NoteVerifier.Parse((await anonymous.GetStringAsync("/audit/key")).Split('\n')[0]);
        var leaves = export.TrimEnd('\n').Split('\n').Select(Encoding.UTF8.GetBytes).ToList();

        var report = LogVerifier.VerifyExport(leaves, note, [key]);
        leaves[3][^3] ^= 0x01;
        var tampered = LogVerifier.VerifyExport(leaves, note, [key]);

        Assert.True(report.Valid, report.Problem);
        Assert.Equal(25, report.RecordsChecked);
        Assert.False(tampered.Valid);
    }

    [Fact]
    public async Task Export_Csv_HasHeaderAndOneRowPerRecordInTimeRange()
    {
        await using var writer = await StartWithRecordsAsync(6);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O"));

        var csv = (await auditor.GetStringAsync($"/audit/export?format=csv&from={from}")).TrimEnd('\n').Split('\n');
        var future = (await auditor.GetStringAsync($"/audit/export?format=csv&from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(5).ToString("O"))}")).TrimEnd('\n').Split('\n');
        var badFormat = await auditor.GetAsync("/audit/export?format=xml");

        Assert.Equal("index,id,time,tenant,principal,route,method,path,status,decision,step,reason,leaf_sha256", csv[0]);
        Assert.Equal(7, csv.Length);
        Assert.StartsWith("0,r0,", csv[1], StringComparison.Ordinal);
        Assert.Single(future);
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
    }

    [Fact]
    public async Task Records_TimeFilterInEveryRfc3339Form_SelectsByTheInstantItNames()
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var before = DateTimeOffset.UtcNow.AddHours(-1);
        var after = DateTimeOffset.UtcNow.AddHours(1);
        string[] beforeForms =
        [
            before.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            before.ToString("yyyy-MM-dd't'HH:mm:ss'z'", CultureInfo.InvariantCulture),
            before.ToString("yyyy-MM-dd HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            before.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + ".123456789Z",
            before.ToOffset(TimeSpan.FromHours(5.5)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
            before.ToOffset(TimeSpan.FromHours(-8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
            before.AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        ];

        foreach (var form in beforeForms)
        {
            var all = await CountAsync($"from={Uri.EscapeDataString(form)}");
            var none = await CountAsync($"to={Uri.EscapeDataString(form)}");
            Assert.True((4, 0) == (all, none), $"{form}: from matched {all}, to matched {none}");
        }

        // The same instant in another offset: 08:00-08:00 is 16:00Z, after every record.
        var later = after.ToOffset(TimeSpan.FromHours(-8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
        Assert.Equal(0, await CountAsync($"from={Uri.EscapeDataString(later)}"));
        Assert.Equal(4, await CountAsync($"to={Uri.EscapeDataString(later)}"));

        async Task<int> CountAsync(string query)
        {
            using var response = await auditor.GetAsync("/audit/records?" + query);
            Assert.True(response.IsSuccessStatusCode, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("records").GetArrayLength();
        }
    }

    [Theory]
    [InlineData("03/12/2026")] // read as March 12 by the invariant culture
    [InlineData("Dec 3 2026")]
    [InlineData("10:00")] // today, in no stated zone
    [InlineData("2026-12-03T10:00:00")] // a local time without an offset
    [InlineData("2026-12-03T10:00")] // no seconds
    [InlineData("2026-12-03T10:00:00 01:00")] // an unencoded + in a URL decodes to a space
    [InlineData("2026-02-30T00:00:00Z")]
    [InlineData("2026-12-03T24:00:00Z")]
    [InlineData("2026-12-03T10:00:00+15:00")]
    [InlineData("2026-12-03T10:00:00+01:60")]
    [InlineData("20261203T100000Z")]
    [InlineData("1733220000")]
    [InlineData("2026-12-03T10:00:00+0100")]
    public async Task Records_TimeFilterNotRfc3339_IsInvalidTimeProblem(string value)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        foreach (var url in new[] { "/audit/records?from=", "/audit/records?to=", "/audit/export?format=csv&from=" })
        {
            using var response = await auditor.GetAsync(url + Uri.EscapeDataString(value));

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("invalid_time", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        }
    }

    [Theory]
    [InlineData("/audit/records?tenant=acme&tenant=globex")]
    [InlineData("/audit/records?decision=deny&decision=allow")]
    [InlineData("/audit/records?from=2026-01-01T00:00:00Z&from=2026-02-01T00:00:00Z")]
    [InlineData("/audit/export?format=csv&route=orders&route=orders")]
    public async Task Records_FilterGivenTwice_IsInvalidFilterProblem(string url)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_filter", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/audit/records?tenant=")]
    [InlineData("/audit/records?principal=&limit=10")]
    [InlineData("/audit/records?decision=")]
    [InlineData("/audit/records?from=&to=")]
    [InlineData("/audit/export?format=ndjson&tenant=")]
    [InlineData("/audit/export?format=csv&route=")]
    public async Task Records_EmptyFilter_IsInvalidFilterProblemNotEveryRecord(string url)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal("invalid_filter", problem.GetProperty("code").GetString());
        Assert.Contains("is empty", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/audit/records?tenat=acme")]
    [InlineData("/audit/records?tenants=acme")]
    [InlineData("/audit/records?decison=deny&limit=10")]
    [InlineData("/audit/export?format=ndjson&tenat=acme")]
    [InlineData("/audit/export?format=csv&limit=1")]
    [InlineData("/audit/export?format=bundle&order=desc")]
    public async Task Records_UnknownParameter_IsInvalidFilterProblemNotEveryRecord(string url)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal("invalid_filter", problem.GetProperty("code").GetString());
        Assert.Contains("is not a parameter here", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/audit/records?decision=denied")]
    [InlineData("/audit/records?decision=Deny")]
    [InlineData("/audit/records?decision=deny%20")]
    [InlineData("/audit/export?format=ndjson&decision=block")]
    [InlineData("/audit/export?format=csv&decision=ALLOW")]
    public async Task Records_UnknownDecision_IsInvalidDecisionProblemNotAnEmptyPage(string url)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal("invalid_decision", problem.GetProperty("code").GetString());
        Assert.Contains("allow, deny", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/audit/records?tenant=acme%27%20OR%201%3D1--")]
    [InlineData("/audit/records?tenant=..%2F..%2Fx")]
    [InlineData("/audit/records?tenant=acme%20")]
    [InlineData("/audit/records?tenant=%00")]
    [InlineData("/audit/records?tenant=%E2%80%AEemca")]
    [InlineData("/audit/records?tenant=...")]
    [InlineData("/audit/records?tenant=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65 characters
    [InlineData("/audit/export?format=ndjson&tenant=acme%3Bglobex")]
    [InlineData("/audit/export?format=bundle&tenant=%F0%9F%98%80")]
    public async Task Records_TenantNotATenantId_IsInvalidTenantProblemNotAnEmptyPage(string url)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal("invalid_tenant", problem.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("acme", 2)]
    [InlineData("a.b_c-D9", 0)]
    public async Task Records_TenantThatIsATenantId_IsServed(string tenant, int expected)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var page = JsonDocument.Parse(await auditor.GetStringAsync($"/audit/records?tenant={tenant}"));

        Assert.Equal(expected, page.RootElement.GetProperty("records").GetArrayLength());
    }

    [Theory]
    [InlineData("allow", 2)]
    [InlineData("deny", 2)]
    [InlineData("erased", 0)]
    [InlineData("unbanned", 0)]
    public async Task Records_DocumentedDecision_IsServed(string decision, int expected)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var page = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records?decision=" + decision)).RootElement;

        var decisions = page.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("decision").GetString()).ToList();
        Assert.Equal(expected, decisions.Count);
        Assert.All(decisions, d => Assert.Equal(decision, d));
    }

    [Theory]
    [InlineData("/audit/records?from=2026-12-04&to=2026-12-01")]
    [InlineData("/audit/records?from=2026-12-01T10:00:00.5%2B01:00&to=2026-12-01T09:00:00.4Z")]
    [InlineData("/audit/export?format=ndjson&from=2026-12-04T00:00:00Z&to=2026-12-03T23:59:59Z")]
    public async Task Records_FromAfterTo_IsInvalidTimeRangeProblemNotAnEmptyPage(string url)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_time_range", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Records_FromEqualsTo_IsAnEmptyWindowNotAProblem()
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var page = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records?from=2026-12-01T00:00:00Z&to=2026-12-01T01:00:00%2B01:00")).RootElement;

        Assert.Empty(page.GetProperty("records").EnumerateArray());
    }

    [Fact]
    public async Task Records_OrderAsc_PagesOldestFirstWithTheCursor()
    {
        await using var writer = await StartWithRecordsAsync(10);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var first = JsonDocument.Parse(await auditor.GetStringAsync("/audit/records?order=asc&limit=4")).RootElement;
        var next = first.GetProperty("next").GetString();
        var second = JsonDocument.Parse(await auditor.GetStringAsync($"/audit/records?order=asc&limit=4&cursor={next}")).RootElement;
        using var badOrder = await auditor.GetAsync("/audit/records?order=sideways");

        Assert.Equal([0L, 1, 2, 3], first.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("index").GetInt64()));
        Assert.Equal([4L, 5, 6, 7], second.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("index").GetInt64()));
        Assert.Equal(HttpStatusCode.BadRequest, badOrder.StatusCode);
        Assert.Equal("invalid_order", JsonDocument.Parse(await badOrder.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Records_LargeRecords_PageBoundedByLeafBytesAndNextServesEachRecordOnce()
    {
        // Five records of 3.5 MiB (17.5 MiB of leaves, one batch under Writer:MaxIngestBytes) with the record cap raised to 4 MiB.
        const int recordBytes = 3_500_000;
        var leaves = Enumerable.Range(0, 5)
            .Select(i => WriterFixture.Leaf($"big{i}", "acme", path: "/orders/" + new string((char)('a' + i), recordBytes)))
            .ToList();

        var (descending, ascending) = await PagesBothWaysAsync(4 * 1024 * 1024, leaves, "limit=1000");

        // Before, the first page held all five (17.5 MiB of leaves, about 45 MB of JSON with their base64 and parsed copies)
        // and no next: with Writer:MaxRecordBytes at 1 MiB, a page of 1,000 could reach about 1 GB.
        var leafBytes = descending.Concat(ascending).Select(page => page.Sum(r => Convert.FromBase64String(r.GetProperty("leaf").GetString()!).Length));
        Assert.All(leafBytes, bytes => Assert.InRange(bytes, 1, 8 * 1024 * 1024));
        Assert.Equal([4L, 3, 2, 1, 0], descending.SelectMany(page => page).Select(r => r.GetProperty("index").GetInt64()));
        Assert.Equal([0L, 1, 2, 3, 4], ascending.SelectMany(page => page).Select(r => r.GetProperty("index").GetInt64()));
        Assert.Equal(3, descending.Count);
        Assert.Equal(3, ascending.Count);
    }

    [Fact]
    public async Task Records_OneRecordOverThePageBudget_IsServedAloneWithNext()
    {
        // A record over the 8 MiB page budget (Writer:MaxRecordBytes raised to 10 MiB) still gets a page of its own.
        var leaves = new[] { "/orders/" + new string('a', 9_000_000), "/orders/1", "/orders/" + new string('b', 9_000_000) }
            .Select((path, i) => WriterFixture.Leaf($"r{i}", "acme", path: path))
            .ToList();

        var (descending, ascending) = await PagesBothWaysAsync(10 * 1024 * 1024, leaves, "limit=100");

        Assert.Equal([[2L], [1L], [0L]], descending.Select(page => page.Select(r => r.GetProperty("index").GetInt64()).ToArray()));
        Assert.Equal([[0L], [1L], [2L]], ascending.Select(page => page.Select(r => r.GetProperty("index").GetInt64()).ToArray()));
    }

    [Fact]
    public async Task Records_RecordOverTheBudgetOutsideTheWindowsFirstMillisecond_LaterRecordsStillListed()
    {
        // The store stops reading at the page budget and cuts 'from' to its millisecond: the oldest record, 9 MB and
        // 0.3 ms before 'from' in the same millisecond, is the page the store returns, and the window drops it. Before,
        // that short page read as the end of the matches: no records and no next, with two records in the window.
        var start = new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);
        var leaves = new[]
        {
            WriterFixture.Leaf("early", "acme", path: "/orders/" + new string('a', 9_000_000), time: start.AddTicks(2_000)),
            WriterFixture.Leaf("in1", "acme", time: start.AddTicks(6_000)),
            WriterFixture.Leaf("in2", "acme", time: start.AddMilliseconds(1)),
        };
        await using var writer = await WriterFixture.StartAsync(extraArgs: ["--Writer:MaxRecordBytes=10485760"]);
        (await writer.IngestAsync(leaves, leaves.Length)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(leaves.Length);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var pages = await AllPagesAsync(auditor, "/audit/records?order=asc&from=2026-12-07T10:00:00.0005Z");

        Assert.Equal(["in1", "in2"], pages.SelectMany(page => page).Select(r => r.GetProperty("id").GetString()));
    }

    /// <summary>
    /// The pages a global auditor reads newest first and oldest first, following <c>next</c>, from a writer that took
    /// <paramref name="leaves"/> (in one batch) under a record cap of <paramref name="maxRecordBytes"/>.
    /// </summary>
    private static async Task<(List<JsonElement[]> Descending, List<JsonElement[]> Ascending)> PagesBothWaysAsync(
        int maxRecordBytes, IReadOnlyList<byte[]> leaves, string query)
    {
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:MaxRecordBytes={maxRecordBytes}"]);
        (await writer.IngestAsync(leaves, leaves.Count)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(leaves.Count);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        return (await AllPagesAsync(auditor, $"/audit/records?{query}"), await AllPagesAsync(auditor, $"/audit/records?{query}&order=asc"));
    }

    /// <summary>Every page <paramref name="url"/> (which has a query) and its <c>next</c> cursors lead to, as a client pages through them.</summary>
    private static async Task<List<JsonElement[]>> AllPagesAsync(HttpClient client, string url)
    {
        var pages = new List<JsonElement[]>();
        string? cursor = null;
        do
        {
            var page = JsonDocument.Parse(await client.GetStringAsync(cursor is null ? url : $"{url}&cursor={cursor}")).RootElement;
            pages.Add([.. page.GetProperty("records").EnumerateArray().Select(r => r.Clone())]);
            cursor = page.GetProperty("next").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next").GetString();
        }
        while (cursor is not null && pages.Count <= 10);

        return pages;
    }

    [Fact]
    public async Task Session_TenantAuditor_ReportsTenantAndNoErase()
    {
        await using var writer = await StartWithRecordsAsync(1);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);
        using var anonymous = writer.Client();

        var session = JsonDocument.Parse(await acme.GetStringAsync("/audit/session")).RootElement;
        using var refused = await anonymous.GetAsync("/audit/session");

        Assert.Equal("acme-auditor", session.GetProperty("principal").GetString());
        Assert.Equal("acme", session.GetProperty("tenant").GetString());
        Assert.False(session.GetProperty("readAllTenants").GetBoolean());
        Assert.False(session.GetProperty("erase").GetBoolean());
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task InclusionProof_TenantAuditor_OnlyForOwnTenantRecords()
    {
        // Record i is acme when i is even, globex when odd.
        await using var writer = await StartWithRecordsAsync(10);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var own = await acme.GetAsync("/audit/proof/inclusion?index=4&size=10");
        using var other = await acme.GetAsync("/audit/proof/inclusion?index=5&size=10");
        using var global = await auditor.GetAsync("/audit/proof/inclusion?index=5&size=10");

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Equal("tenant_forbidden", JsonDocument.Parse(await other.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, global.StatusCode);
    }

    [Fact]
    public async Task Records_IdFilter_FindsOneRecordWithinTheCallersTenant()
    {
        await using var writer = await StartWithRecordsAsync(10);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);

        var own = JsonDocument.Parse(await acme.GetStringAsync("/audit/records?id=r4")).RootElement.GetProperty("records");
        var other = JsonDocument.Parse(await acme.GetStringAsync("/audit/records?id=r5")).RootElement.GetProperty("records");

        Assert.Equal(4, Assert.Single(own.EnumerateArray()).GetProperty("index").GetInt64());
        Assert.Equal(0, other.GetArrayLength());
    }

    [Theory]
    [InlineData(null, "/audit/records", 401)]
    [InlineData("wrong-key", "/audit/proof/inclusion?index=0&size=1", 401)]
    [InlineData(WriterFixture.ViewerKey, "/audit/records", 403)]
    [InlineData(WriterFixture.GlobalAuditorKey, "/audit/records?limit=0", 400)]
    public async Task Problems_EveryRefusal_CarriesInstanceRequestIdAndCode(string? apiKey, string url, int expected)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client(apiKey);

        using var response = await client.GetAsync(url);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(url.Split('?')[0], problem.GetProperty("instance").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("requestId").GetString()));
        Assert.Equal(expected, problem.GetProperty("status").GetInt32());
        Assert.StartsWith("urn:edge:problem:", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("code").GetString()));
    }

    [Theory]
    [InlineData("X-Api-Key", "caf\u00e9-key-0123456789")]
    [InlineData("Authorization", "Bearer \u00ff\u00fe")]
    public async Task Records_CredentialWithNonAsciiBytes_401ProblemNotKestrelsBare400(string header, string value)
    {
        await using var writer = await WriterFixture.StartAsync();
        // HttpClient sends non-ASCII header values only with an encoding: Latin-1, one byte per char.
        using var client = new HttpClient(new SocketsHttpHandler { RequestHeaderEncodingSelector = static (_, _) => Encoding.Latin1 }) { BaseAddress = writer.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/audit/records");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.False(string.IsNullOrEmpty(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    public async Task Records_Unauthenticated_ChallengesWithTheApiKeyScheme(string? apiKey)
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client(apiKey);

        using var response = await client.GetAsync("/audit/records");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("X-Api-Key", Assert.Single(response.Headers.WwwAuthenticate).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_NoAuthenticationConfigured_StillChallenges()
    {
        await using var writer = await WriterFixture.StartAsync(authentication: "");
        using var client = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await client.GetAsync("/audit/records");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer realm=\"edge-audit\"", Assert.Single(response.Headers.WwwAuthenticate).ToString());
    }

    [Theory]
    [InlineData("/audit/proof/inclusion?index=1&size=4&tenant=acme", "tenant")] // before: 200, the proof, tenant ignored
    [InlineData("/audit/proof/inclusion?index=1&size=4&size=3", "size")] // before: invalid_proof_range naming nothing
    [InlineData("/audit/proof/consistency?from=1&to=4&format=csv", "format")]
    [InlineData("/audit/proof/consistency?from=1&from=2&to=4", "from")]
    [InlineData("/audit/checkpoint?size=2", "size")] // before: the latest checkpoint, as if it were of size 2
    [InlineData("/audit/key?id=1", "id")]
    [InlineData("/audit/session?tenant=globex", "tenant")]
    [InlineData("/audit/records?limit=1&limit=2", "limit")] // before: invalid_limit
    [InlineData("/audit/records?order=asc&order=desc", "order")]
    [InlineData("/audit/export?format=csv&format=ndjson", "format")] // before: invalid_format, as if "csv,ndjson" were one
    [InlineData("/audit/records?tenat=acme", "tenat")]
    [InlineData("/audit/records?tenant=", "tenant")]
    public async Task ReadEndpoints_UnknownRepeatedOrEmptyParameter_InvalidFilterNamingItInErrors(string url, string parameter)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal("invalid_filter", problem.GetProperty("code").GetString());
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(parameter, error.GetProperty("parameter").GetString());
    }

    [Theory]
    [InlineData("/audit/records?order=", "invalid_order", "order")] // before: 200, newest first, as if order were left out
    [InlineData("/audit/records?order=ASC", "invalid_order", "order")]
    [InlineData("/audit/records?limit=", "invalid_limit", "limit")]
    [InlineData("/audit/records?limit=99999999999", "invalid_limit", "limit")]
    [InlineData("/audit/records?cursor=-1", "invalid_cursor", "cursor")]
    [InlineData("/audit/records?cursor=", "invalid_cursor", "cursor")]
    public async Task Records_BadPageParameter_ProblemNamingIt(string url, string code, string parameter)
    {
        var problem = await BadRequestProblemAsync(url);

        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(parameter, Assert.Single(problem.GetProperty("errors").EnumerateArray()).GetProperty("parameter").GetString());
    }

    [Fact]
    public async Task Records_SubMillisecondBounds_DecidedByTheRecordsOwnTime()
    {
        // Three records within one millisecond and one in the next: the store indexes milliseconds, the records carry 100 ns.
        var start = new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero).AddTicks(1_230_000);
        string[] times = ["2026-12-06T10:00:00.1230000Z", "2026-12-06T10:00:00.1234567Z", "2026-12-06T10:00:00.1239999Z", "2026-12-06T10:00:00.1240000Z"];
        await using var writer = await WriterFixture.StartAsync();
        var leaves = times.Select((t, i) => WriterFixture.Leaf($"t{i}", "acme", time: DateTimeOffset.Parse(t, CultureInfo.InvariantCulture))).ToList();
        (await writer.IngestAsync(leaves, 4)).EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        // Every time is given as the list shows it: before, it showed 10:00:00.1230000Z for all three of the first.
        var shown = (await IdsAsync("/audit/records?order=asc", "time")).ToList();
        Assert.Equal(times, shown);

        // Before, both bounds were cut to the millisecond: from=.1234567 listed t0, to=.1234567 and to=.1239999 left out t1.
        Assert.Equal(["t1", "t2", "t3"], await IdsAsync($"/audit/records?order=asc&from={times[1]}"));
        Assert.Equal(["t0"], await IdsAsync($"/audit/records?order=asc&to={times[1]}"));
        Assert.Equal(["t1"], await IdsAsync($"/audit/records?order=asc&from={times[1]}&to={times[2]}"));
        Assert.Equal(["t0", "t1"], await IdsAsync($"/audit/records?order=asc&to={times[2]}"));
        Assert.Equal(["t2"], await IdsAsync($"/audit/records?from={times[2]}&to={times[3]}"));
        Assert.Empty(await IdsAsync($"/audit/records?from={times[1]}&to={times[1]}"));

        // A page that ends inside the bound's millisecond still pages on with its cursor.
        var first = JsonDocument.Parse(await auditor.GetStringAsync($"/audit/records?order=asc&limit=1&from=2026-12-06T10:00:00.1230001Z")).RootElement;
        var next = first.GetProperty("next").GetString();
        Assert.Equal("t1", first.GetProperty("records")[0].GetProperty("id").GetString());
        Assert.Equal(["t2"], await IdsAsync($"/audit/records?order=asc&limit=1&from=2026-12-06T10:00:00.1230001Z&cursor={next}"));
        Assert.Equal(["t2"], await IdsAsync($"/audit/records?limit=1&to={times[3]}"));

        // Exports take the same window and show the same time.
        var csv = (await auditor.GetStringAsync($"/audit/export?format=csv&from={times[1]}&to={times[2]}")).TrimEnd('\n').Split('\n');
        Assert.Equal(2, csv.Length);
        Assert.StartsWith($"1,t1,{times[1]},", csv[1], StringComparison.Ordinal);
        var ndjson = (await auditor.GetStringAsync($"/audit/export?format=ndjson&from={times[2]}&to={times[3]}")).TrimEnd('\n').Split('\n');
        Assert.Equal("t2", JsonDocument.Parse(Assert.Single(ndjson)).RootElement.GetProperty("id").GetString());
        Assert.Equal(start.AddTicks(9_999), DateTimeOffset.Parse(times[2], CultureInfo.InvariantCulture));

        async Task<string[]> IdsAsync(string url, string field = "id") =>
            JsonDocument.Parse(await auditor.GetStringAsync(url)).RootElement.GetProperty("records").EnumerateArray()
                .Select(r => r.GetProperty(field).GetString()!).ToArray();
    }

    [Theory]
    [InlineData("/audit/records?to=9999-12-31T23:59:59.9999999Z")]
    [InlineData("/audit/records?to=9999-12-31T23:59:59.9995%2B14:00")]
    [InlineData("/audit/export?format=csv&to=9999-12-31T23:59:59.9999999Z")]
    [InlineData("/audit/export?format=ndjson&from=2026-01-01T00:00:00.5Z&to=9999-12-31T23:59:59.9999999Z")]
    public async Task Records_SubMillisecondBoundAtTheCalendarsEnd_ServesEveryRecordNotA500(string url)
    {
        await using var writer = await StartWithRecordsAsync(4);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();

        // The store's bound is the next millisecond, and the last one of year 9999 has none.
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        Assert.Equal(4, url.Contains("export", StringComparison.Ordinal)
            ? body.TrimEnd('\n').Split('\n').Count(line => !line.StartsWith("index,", StringComparison.Ordinal))
            : JsonDocument.Parse(body).RootElement.GetProperty("records").GetArrayLength());
    }

    private static async Task<List<string>> ProofAsync(HttpClient client, string url) =>
        JsonDocument.Parse(await client.GetStringAsync(url)).RootElement.GetProperty("proof").EnumerateArray()
            .Select(h => h.GetString()!).ToList();
}
