using System.Net;
using System.Text.Json;
using Edge.Audit.Storage;
using Edge.AuditWriter.Log;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.AuditWriter.Tests.Ingest;

public sealed class IngestEndpointTests
{
    [Fact]
    public async Task Ingest_BatchThenReplay_AcksBothAndStoresEachRecordOnce()
    {
        await using var writer = await WriterFixture.StartAsync();
        var batch = Enumerable.Range(0, 50).Select(i => WriterFixture.Leaf($"r{i}", "acme")).ToList();

        using var first = await writer.IngestAsync(batch, 50);
        using var replay = await writer.IngestAsync(batch.Skip(10).Append(WriterFixture.Leaf("r50", "acme")), 51);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(50, JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("acked").GetInt64());
        Assert.Equal(51, JsonDocument.Parse(await replay.Content.ReadAsStringAsync()).RootElement.GetProperty("acked").GetInt64());
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(51, store.Count());
        // The writer commits to the protected (v2) form of the edge's record: same id, subject encrypted.
        var stored = JsonDocument.Parse(store.ReadLeaves().Single(l => l.Index == 7).Bytes).RootElement;
        Assert.Equal("r7", stored.GetProperty("id").GetString());
        Assert.Equal("urn:edge:audit:record:2", stored.GetProperty("dataschema").GetString());
        Assert.Equal("aes-256-gcm", stored.GetProperty("data").GetProperty("subject").GetProperty("protection").GetString());
        Assert.DoesNotContain("user-r7", stored.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_RecordFailingMidBatch_RollsBackTheBatchWithItsNewSubjectsAndTheRetryStoresEachRecordOnce()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var first = await writer.IngestAsync([WriterFixture.Leaf("before", "acme", principal: "carol")], 1);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        // A real SQLite failure inside the writer's transaction: a trigger that aborts the third record's insert.
        ExecuteOnStore(writer, "CREATE TRIGGER inject_fault BEFORE INSERT ON records WHEN NEW.record_id = 'poison' BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
        var batch = new[]
        {
            WriterFixture.Leaf("a", "acme", principal: "alice"),
            WriterFixture.Leaf("b", "acme", principal: "bob"),
            WriterFixture.Leaf("poison", "acme", principal: "dave"),
            WriterFixture.Leaf("c", "acme", principal: "carol"),
        };

        using var failed = await writer.IngestAsync(batch, 5);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Equal("application/problem+json", failed.Content.Headers.ContentType!.MediaType);
        Assert.Equal("ingest_failed", JsonDocument.Parse(await failed.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        // Nothing of the batch: no record, and no data key for the subjects it saw first (alice, bob, dave).
        Assert.Equal(1, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
        Assert.Equal(1, ScalarOnStore(writer, "SELECT COUNT(*) FROM subjects"));
        Assert.Equal(1, writer.Services.GetRequiredService<AuditLog>().Size);

        ExecuteOnStore(writer, "DROP TRIGGER inject_fault");
        using var retry = await writer.IngestAsync(batch, 5);
        using var again = await writer.IngestAsync(batch, 5);

        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(5, ScalarOnStore(writer, "SELECT COUNT(*) FROM records"));
        Assert.Equal(4, ScalarOnStore(writer, "SELECT COUNT(*) FROM subjects"));
        Assert.Equal(["before", "a", "b", "poison", "c"], StoredIds(writer));
        await writer.WaitForCheckpointAsync(5);
    }

    private static void ExecuteOnStore(WriterFixture writer, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={writer.StorePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long ScalarOnStore(WriterFixture writer, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={writer.StorePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static List<string> StoredIds(WriterFixture writer)
    {
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        return store.ReadLeaves().Select(l => JsonDocument.Parse(l.Bytes).RootElement.GetProperty("id").GetString()!).ToList();
    }

    [Fact]
    public async Task Ingest_InvalidRecord_Returns400ProblemAndStoresNothing()
    {
        await using var writer = await WriterFixture.StartAsync();

        using var response = await writer.IngestAsync([WriterFixture.Leaf("ok", "acme"), "{\"not\":\"an event\"}"u8.ToArray()], 2);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_record", problem.GetProperty("code").GetString());
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(0, store.Count());
    }

    [Fact]
    public async Task Ingest_MissingSequenceHeader_Returns400Problem()
    {
        await using var writer = await WriterFixture.StartAsync();
        using var client = writer.Client();

        using var response = await client.PostAsync(Edge.Audit.Shipping.IngestProtocol.Path, new ByteArrayContent(WriterFixture.Leaf("a", "acme")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("missing_sequence", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ingest_WithIngestTokenConfigured_RefusesMissingOrWrongTokenAndAcceptsTheRightOne()
    {
        var variable = "EDGE_TEST_INGEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "ingest-token-0123456789");
        await using var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:IngestToken=env:{variable}"]);

        using var missing = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1);
        using var wrong = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456780");
        using var right = await writer.IngestAsync([WriterFixture.Leaf("a", "acme")], 1, token: "ingest-token-0123456789");

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("ingest_unauthenticated", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("Bearer realm=\"edge-audit-ingest\"", Assert.Single(missing.Headers.WwwAuthenticate).ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Single(wrong.Headers.WwwAuthenticate);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        using var store = AuditStore.OpenReadOnly(writer.StorePath);
        Assert.Equal(1, store.Count());
    }
}
