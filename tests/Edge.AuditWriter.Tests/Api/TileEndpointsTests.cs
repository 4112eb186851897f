using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Edge.Audit.Storage;
using Edge.AuditWriter.Log;
using Edge.AuditWriter.Tests.Protection;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Api;

public sealed class TileEndpointsTests
{
    private const int Records = 600;

    private static async Task<WriterFixture> StartWithRecordsAsync(IReadOnlyList<string>? extraArgs = null)
    {
        var writer = await WriterFixture.StartAsync(extraArgs: extraArgs);
        var leaves = Enumerable.Range(0, Records).Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList();
        using var response = await writer.IngestAsync(leaves, Records);
        response.EnsureSuccessStatusCode();
        await writer.WaitForCheckpointAsync(Records);
        return writer;
    }

    /// <summary>The leaf hashes as stored, each checked against RFC 6962 hashing of the stored leaf bytes.</summary>
    private static List<byte[]> LeafHashes(WriterFixture writer)
    {
        var records = writer.Services.GetRequiredService<AuditLog>().Store.Query(new RecordQuery { Ascending = true, Limit = 10_000 });
        Assert.All(records, r => Assert.Equal(Rfc9162.LeafHash(r.Leaf), r.LeafHash));
        return records.Select(r => r.LeafHash).ToList();
    }

    /// <summary>RFC 6962 §2.1 MTH over leaf hashes, written here.</summary>
    private static byte[] Mth(List<byte[]> leafHashes, int start, int end)
    {
        if (end - start == 1)
        {
            return leafHashes[start];
        }

        var k = 1;
        while (k * 2 < end - start)
        {
            k *= 2;
        }

        return Rfc9162.NodeHash(Mth(leafHashes, start, start + k), Mth(leafHashes, start + k, end));
    }

    [Fact]
    public async Task Tile_Witness_ServesTheSpecsTilesForTheTree()
    {
        await using var writer = await StartWithRecordsAsync();
        using var witness = writer.Client(WriterFixture.WitnessKey);
        var leaves = LeafHashes(writer);

        // 600 leaves: level 0 has full tiles 0 and 1 and a partial tile 2 of 88; level 1 a partial tile 0 of 2.
        var expected = new Dictionary<string, byte[]>
        {
            ["tile/0/000"] = [.. leaves.Take(256).SelectMany(h => h)],
            ["tile/0/001"] = [.. leaves.Skip(256).Take(256).SelectMany(h => h)],
            ["tile/0/002.p/88"] = [.. leaves.Skip(512).SelectMany(h => h)],
            ["tile/0/002.p/5"] = [.. leaves.Skip(512).Take(5).SelectMany(h => h)],
            ["tile/0/001.p/3"] = [.. leaves.Skip(256).Take(3).SelectMany(h => h)],
            ["tile/1/000.p/2"] = [.. Mth(leaves, 0, 256), .. Mth(leaves, 256, 512)],
            ["tile/1/000.p/1"] = Mth(leaves, 0, 256),
        };
        foreach (var (path, hashes) in expected)
        {
            using var response = await witness.GetAsync("/" + path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal(hashes, await response.Content.ReadAsByteArrayAsync());
            var caching = response.Headers.NonValidated["Cache-Control"].ToString();
            Assert.Equal(path.Contains(".p/", StringComparison.Ordinal) ? "private, max-age=60" : "private, max-age=31536000, immutable", caching);
        }

        // The checkpoint's root is the tree these tiles describe.
        var note = await witness.GetStringAsync("/checkpoint");
        Assert.Equal(Convert.ToBase64String(Mth(leaves, 0, Records)), note.Split('\n')[2]);
    }

    [Theory]
    [InlineData("/tile/0/002", 404, "tile_not_found")]
    [InlineData("/tile/0/002.p/89", 404, "tile_not_found")]
    [InlineData("/tile/0/003.p/1", 404, "tile_not_found")]
    [InlineData("/tile/1/000", 404, "tile_not_found")]
    [InlineData("/tile/2/000.p/1", 404, "tile_not_found")]
    [InlineData("/tile/63/x999/x999/x999/x999/x999/999", 404, "tile_not_found")]
    [InlineData("/tile/entries/003.p/1", 404, "tile_not_found")]
    [InlineData("/tile/0/x000/001", 400, "invalid_tile_path")]
    [InlineData("/tile/0/1", 400, "invalid_tile_path")]
    [InlineData("/tile/64/000", 400, "invalid_tile_path")]
    [InlineData("/tile/0/000.p/256", 400, "invalid_tile_path")]
    [InlineData("/tile/0/000.p/0", 400, "invalid_tile_path")]
    [InlineData("/tile/0/000.p/", 400, "invalid_tile_path")]
    [InlineData("/tile/0/x999/x999/x999/x999/x999/x999/999", 400, "invalid_tile_path")]
    [InlineData("/tile/", 400, "invalid_tile_path")]
    [InlineData("/tile/abc/000", 400, "invalid_tile_path")]
    public async Task Tile_BadOrAbsentPath_AnswersProblemWithStableCode(string path, int status, string code)
    {
        await using var writer = await StartWithRecordsAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);

        using var response = await auditor.GetAsync(path);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData(null, "/tile/0/000", 401)]
    [InlineData(WriterFixture.ViewerKey, "/tile/0/000", 403)]
    [InlineData(WriterFixture.WitnessKey, "/tile/0/000", 200)]
    [InlineData(WriterFixture.AcmeAuditorKey, "/tile/0/000", 200)]
    [InlineData(WriterFixture.GlobalAuditorKey, "/tile/0/000", 200)]
    [InlineData(null, "/tile/entries/000", 401)]
    [InlineData(WriterFixture.WitnessKey, "/tile/entries/000", 403)]
    [InlineData(WriterFixture.AcmeAuditorKey, "/tile/entries/000", 403)]
    [InlineData(WriterFixture.GlobalAuditorKey, "/tile/entries/000", 200)]
    [InlineData(null, "/checkpoint", 200)]
    public async Task Tile_Caller_NeedsTheTilesOrReadPermissionAndEntriesNeedReadAll(string? key, string path, int status)
    {
        await using var writer = await StartWithRecordsAsync();
        using var client = writer.Client(key);

        using var response = await client.GetAsync(path);

        Assert.Equal(status, (int)response.StatusCode);
        if (status == 401)
        {
            Assert.NotEmpty(response.Headers.WwwAuthenticate);
        }
    }

    [Fact]
    public async Task Tile_PublicTiles_ServesHashTilesWithoutCredentialsButNotEntries()
    {
        await using var writer = await StartWithRecordsAsync(["--Writer:PublicTiles=true"]);
        using var anonymous = writer.Client();

        using var full = await anonymous.GetAsync("/tile/0/000");
        using var partial = await anonymous.GetAsync("/tile/1/000.p/2");
        using var entries = await anonymous.GetAsync("/tile/entries/000");

        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal("public, max-age=31536000, immutable", full.Headers.NonValidated["Cache-Control"].ToString());
        Assert.Equal("public, max-age=60", partial.Headers.NonValidated["Cache-Control"].ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, entries.StatusCode);
    }

    [Fact]
    public async Task Checkpoint_TlogPath_IsTheSignedNoteOfAuditCheckpoint()
    {
        await using var writer = await StartWithRecordsAsync();
        using var client = writer.Client();

        using var response = await client.GetAsync("/checkpoint");

        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType.CharSet);
        Assert.Equal("no-cache", response.Headers.NonValidated["Cache-Control"].ToString());
        Assert.Equal(await client.GetStringAsync("/audit/checkpoint"), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Entries_Bundle_HashesToTheLevel0TileUntilARecordIsPruned()
    {
        await using var writer = await StartWithRecordsAsync();
        using var auditor = writer.Client(WriterFixture.GlobalAuditorKey);
        var level0 = await auditor.GetByteArrayAsync("/tile/0/002.p/88");

        using var bundle = await auditor.GetAsync("/tile/entries/002.p/88");
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode);
        Assert.Equal("private, no-store", bundle.Headers.NonValidated["Cache-Control"].ToString());
        var body = await bundle.Content.ReadAsByteArrayAsync();
        var entries = new List<byte[]>();
        for (var offset = 0; offset < body.Length;)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(offset));
            entries.Add(body.AsSpan(offset + 2, length).ToArray());
            offset += 2 + length;
        }

        Assert.Equal(88, entries.Count);
        Assert.Equal(level0, entries.SelectMany(Rfc9162.LeafHash).ToArray());

        // Retention prunes the oldest record to its leaf hash: its bundle is gone, its hash tile is not.
        var log = writer.Services.GetRequiredService<AuditLog>();
        Assert.Equal(1, log.Store.PruneBefore(DateTimeOffset.UtcNow.AddDays(1), null, [], 1));
        using var pruned = await auditor.GetAsync("/tile/entries/000");
        using var stillServed = await auditor.GetAsync("/tile/entries/001");
        using var hashes = await auditor.GetAsync("/tile/0/000");

        Assert.Equal(HttpStatusCode.NotFound, pruned.StatusCode);
        Assert.Contains("\"entries_pruned\"", await pruned.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, hashes.StatusCode);
        Assert.Equal(8192, (await hashes.Content.ReadAsByteArrayAsync()).Length);
    }
}
