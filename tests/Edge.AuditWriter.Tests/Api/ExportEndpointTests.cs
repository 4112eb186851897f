using System.Formats.Tar;
using System.Net;
using System.Text;
using System.Text.Json;
using Edge.Audit.Bundles;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Verification;
using Edge.AuditWriter.Api;

namespace Edge.AuditWriter.Tests.Api;

public sealed class ExportEndpointTests
{
    private static async Task<WriterFixture> StartWithRecordsAsync(int count, Func<int, byte[]>? leaf = null)
    {
        var writer = await WriterFixture.StartAsync();
        leaf ??= i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex", i % 3 == 0 ? "deny" : "allow");
        for (var batch = 0; batch < count; batch += 500)
        {
            var leaves = Enumerable.Range(batch, Math.Min(500, count - batch)).Select(leaf).ToList();
            using var response = await writer.IngestAsync(leaves, batch + leaves.Count);
            response.EnsureSuccessStatusCode();
        }

        await writer.WaitForCheckpointAsync(count);
        return writer;
    }

    private static async Task<NoteVerifier> KeyAsync(WriterFixture writer)
    {
        using var client = writer.Client();
        return NoteVerifier.Parse((await client.GetStringAsync("/audit/key")).Split('\n')[0]);
    }

    [Fact]
    public async Task Bundle_MoreRecordsThanOneChunk_VerifiesEveryRecordOffline()
    {
        await using var writer = await StartWithRecordsAsync(AuditBundle.ChunkSize + 150);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync("/audit/export?format=bundle");
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var report = BundleVerifier.Verify(new MemoryStream(bytes), [await KeyAsync(writer)]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-tar", response.Content.Headers.ContentType!.MediaType);
        Assert.True(report.Valid, report.Problem);
        Assert.Equal(AuditBundle.ChunkSize + 150, report.RecordsChecked);
        Assert.False(report.UsedBundledKey);
        Assert.Equal(
            ["checkpoint.txt", "key.txt", "records/000000.ndjson", "proofs/000000.ndjson", "records/000001.ndjson", "proofs/000001.ndjson", "manifest.json"],
            EntryNames(bytes));
    }

    [Fact]
    public async Task Bundle_TenantAuditorWithFilter_HoldsOnlyMatchingOwnTenantRecords()
    {
        await using var writer = await StartWithRecordsAsync(30);
        using var acme = writer.Client(WriterFixture.AcmeAuditorKey);

        var bytes = await acme.GetByteArrayAsync("/audit/export?format=bundle&decision=deny");
        using var otherTenant = await acme.GetAsync("/audit/export?format=bundle&tenant=globex");
        var report = BundleVerifier.Verify(new MemoryStream(bytes), [await KeyAsync(writer)]);
        var records = ReadEntry(bytes, "records/000000.ndjson").TrimEnd('\n').Split('\n')
            .Select(line => JsonDocument.Parse(line).RootElement).ToList();

        Assert.True(report.Valid, report.Problem);
        // Even indexes are acme, multiples of 3 deny: 0, 6, 12, 18, 24.
        Assert.Equal(["r0", "r6", "r12", "r18", "r24"], records.Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.Forbidden, otherTenant.StatusCode);
    }

    [Theory]
    [InlineData("\"tenant\":\"acme\"", 11)]
    [InlineData("\"proof\":[\"", 12)]
    [InlineData("test.edge/audit\n", 2)]
    [InlineData("\"records\": ", 11)]
    public async Task Bundle_OneAlteredByte_FailsVerification(string anchor, int offset)
    {
        await using var writer = await StartWithRecordsAsync(40);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var bytes = await auditor.GetByteArrayAsync("/audit/export?format=bundle");
        var key = await KeyAsync(writer);
        Assert.True(BundleVerifier.Verify(new MemoryStream(bytes), [key]).Valid);

        var position = IndexOf(bytes, Encoding.UTF8.GetBytes(anchor)) + offset;
        bytes[position] = (byte)(bytes[position] == (byte)'1' ? '2' : '1');
        var report = BundleVerifier.Verify(new MemoryStream(bytes), [key]);

        Assert.False(report.Valid);
        Assert.NotNull(report.Problem);
    }

    [Fact]
    public async Task Bundle_Manifest_CountsRecordsUnderTheCheckpointSize()
    {
        await using var writer = await StartWithRecordsAsync(10);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var bytes = await auditor.GetByteArrayAsync("/audit/export?format=bundle");
        using var manifest = JsonDocument.Parse(ReadEntry(bytes, "manifest.json"));

        Assert.Equal(10, manifest.RootElement.GetProperty("treeSize").GetInt64());
        Assert.Equal(10, manifest.RootElement.GetProperty("records").GetInt64());
        Assert.Equal(AuditBundle.Format, manifest.RootElement.GetProperty("format").GetString());
    }

    [Fact]
    public async Task Csv_ClientControlledCells_AreDefusedAndMarkedUnverifiable()
    {
        await using var writer = await StartWithRecordsAsync(3, i => WriterFixture.Leaf($"r{i}", "acme",
            path: i switch { 0 => "=HYPERLINK(\"http://evil\")", 1 => "+1,2", _ => "/plain;=HYPERLINK(CHAR(104))" }, principal: i == 2 ? "@admin" : null));
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync("/audit/export?format=csv");
        var rows = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');

        Assert.Equal("false", response.Headers.GetValues(ExportEndpoint.VerifiableHeader).Single());
        Assert.StartsWith("attachment;", response.Content.Headers.ContentDisposition!.ToString(), StringComparison.Ordinal);
        Assert.Contains(",GET,\"'=HYPERLINK(\"\"http://evil\"\")\",200,", rows[1], StringComparison.Ordinal);
        Assert.Contains(",GET,\"'+1,2\",", rows[2], StringComparison.Ordinal);
        Assert.Contains(",acme,'@admin,orders,GET,/plain;'=HYPERLINK(CHAR(104)),", rows[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_AnonymousRequest_PrincipalCellEmptyNotTheCipherName()
    {
        // An unauthenticated request still has a protected subject (its client address), but no principal.
        await using var writer = await StartWithRecordsAsync(2, i => i == 0
            ? AuditRecordSerializer.Serialize(new AuditRecord
            {
                Id = "anon", Time = DateTimeOffset.UtcNow, Instance = "edge-test", Tenant = "acme", Decision = "deny",
                Route = "orders", Method = "GET", Path = "/orders/1", Status = 400,
                Subject = new AuditSubject { ClientIp = "192.0.2.7" },
            })
            : WriterFixture.Leaf("known", "acme", principal: "alice"));
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var rows = (await auditor.GetStringAsync("/audit/export?format=csv")).TrimEnd('\n').Split('\n');

        Assert.Contains(",acme,,orders,GET,/orders/1,400,deny,", rows[1], StringComparison.Ordinal);
        Assert.Contains(",acme,alice,orders,GET,/orders/1,200,allow,", rows[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csv_RecordWhoseDataIsNotAnObject_EveryRowIsWritten()
    {
        // CloudEvents lets data be any JSON value and ingest takes it; a sender with the ingest token chose these.
        static byte[] Event(string id, string data) => Encoding.UTF8.GetBytes(
            $"{{\"specversion\":\"1.0\",\"id\":\"{id}\",\"source\":\"edge://e1\",\"type\":\"edge.request\",\"time\":\"2026-12-06T10:00:00Z\",\"tenant\":\"acme\",\"data\":{data}}}");
        await using var writer = await StartWithRecordsAsync(5, i => i switch
        {
            0 => WriterFixture.Leaf("first", "acme", principal: "alice"),
            1 => Event("text", "\"x\""),
            2 => Event("array", "[1,2]"),
            3 => Event("number", "5"),
            _ => WriterFixture.Leaf("last", "acme", principal: "bob"),
        });
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync("/audit/export?format=csv");
        var rows = (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');

        // Before, the first such record threw while its principal cell was written: the answer, already 200, ended after
        // the rows before it, so a compliance export silently lacked every later record.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(6, rows.Length);
        Assert.StartsWith("1,text,2026-12-06T10:00:00.0000000Z,acme,,,,,,,,,", rows[2], StringComparison.Ordinal);
        Assert.StartsWith("2,array,", rows[3], StringComparison.Ordinal);
        Assert.StartsWith("3,number,", rows[4], StringComparison.Ordinal);
        Assert.Contains(",acme,bob,orders,GET,", rows[5], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("=1+1", "'=1+1")]
    [InlineData("-2", "'-2")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("plain", "plain")]
    [InlineData(null, "")]
    // A spreadsheet whose list separator is ';' (German, French, Dutch locales) splits "/x;=..." into a second cell that
    // starts with '=' however the comma-separated cell was quoted; a line break (inside quotes Excel may not honour)
    // starts a row, and a tab a TSV cell.
    [InlineData("/x;=HYPERLINK(CHAR(104))", "/x;'=HYPERLINK(CHAR(104))")]
    [InlineData("/x;+1", "/x;'+1")]
    [InlineData("a\t@SUM(1)", "a\t'@SUM(1)")]
    [InlineData("a\n-1", "\"a\n'-1\"")]
    [InlineData("/x;\"=1", "\"/x;\"\"'=1\"")]
    [InlineData("/a-b;c=d", "/a-b;c=d")]
    public void CsvCell_Value_IsQuotedAndDefused(string? value, string expected) =>
        Assert.Equal(expected, ExportEndpoint.CsvCell(value));

    [Fact]
    public async Task Ndjson_WithPrincipalFilter_StreamsOnlyThatPrincipalsLeaves()
    {
        await using var writer = await StartWithRecordsAsync(20);
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        var lines = (await auditor.GetStringAsync("/audit/export?format=ndjson&principal=user-r7")).TrimEnd('\n').Split('\n');

        Assert.Single(lines);
        Assert.Equal("r7", JsonDocument.Parse(lines[0]).RootElement.GetProperty("id").GetString());
    }

    private static List<string> EntryNames(byte[] bytes)
    {
        using var reader = new TarReader(new MemoryStream(bytes));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }

    private static string ReadEntry(byte[] bytes, string name)
    {
        using var reader = new TarReader(new MemoryStream(bytes));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name == name)
            {
                using var text = new StreamReader(entry.DataStream!);
                return text.ReadToEnd();
            }
        }

        throw new InvalidOperationException($"no {name} in the bundle");
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        var index = haystack.AsSpan().IndexOf(needle);
        Assert.True(index >= 0, "anchor not found");
        return index;
    }
}
