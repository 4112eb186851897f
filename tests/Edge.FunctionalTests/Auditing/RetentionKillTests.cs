using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Edge.Audit.Checkpoints;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.Audit.Storage;
using Edge.Audit.Verification;
using Edge.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Edge.FunctionalTests.Auditing;

/// <summary>
/// A real writer process pruning a store past its retention is killed with SIGKILL between two prune batches. Every
/// record it pruned (SQLite) or made unreadable by shredding its key (PostgreSQL) must then be named by a retention record
/// committed with it: before, one record was appended at the end of the run, so a run cut off left prunes no record
/// explained, which a verifier cannot tell from records pruned by hand.
/// </summary>
public sealed class RetentionKillTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    // Four batches of 5,000 (the writer's batch size): the kill lands after the first commit, well before the last.
    private const int OldRecords = 20_000;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Retention_WriterKilledBetweenPruneBatches_EveryPruneNamedByARecordCommittedWithIt(string engine)
    {
        var directory = Directory.CreateTempSubdirectory("edge-retention-kill-").FullName;
        var connectionString = engine == "postgres" ? postgres.Server.ConnectionString(await postgres.Server.CreateDatabaseAsync()) : null;
        var storePath = Path.Combine(directory, "audit.db");
        var port = FreePort.Next();
        ChildProcess Writer(params string[] extra) => new(ChildProcess.BuildOutput("Edge.AuditWriter"),
        [
            "--urls", $"http://127.0.0.1:{port}",
            .. connectionString is null ? new[] { $"--Writer:StorePath={storePath}" } : [$"--Writer:Postgres={connectionString}", "--Writer:LeaseInterval=00:00:00.250"],
            $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}", $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}",
            "--Writer:Origin=retention-kill.test", "--Serilog:MinimumLevel:Default=Warning",
            .. extra,
        ]);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        // Records 40 days old, each of its own subject (on PostgreSQL a batch is 5,000 subjects).
        using (var filler = Writer())
        {
            filler.Start();
            await WriterFailoverTests.WaitForRoleAsync(client, $"http://127.0.0.1:{port}", "sequencer", filler);
            var old = DateTimeOffset.UtcNow.AddDays(-40);
            for (var batch = 0; batch < OldRecords / 2000; batch++)
            {
                var leaves = Enumerable.Range(batch * 2000, 2000)
                    .Select(i => Edge.AuditWriter.Tests.WriterFixture.Leaf($"old-{i}", "acme", principal: $"user-{i}@example.test", time: old));
                using var response = await PostAsync(client, port, leaves, (batch + 1) * 2000L);
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            }

            await filler.StopAsync(TimeSpan.FromSeconds(30));
        }

        using (var pruner = Writer("--Writer:Retention:Default=30.00:00:00"))
        {
            pruner.Start();
            // The run starts with the writer; kill it as soon as one batch has committed (the log grew: only the writer
            // appends now). A look at the log's size is a primary-key lookup, so the kill comes well before the last batch.
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (await LogSizeAsync(storePath, connectionString) <= OldRecords)
            {
                Assert.True(DateTime.UtcNow < deadline, "no prune batch committed within 120 s\n" + pruner.RecentOutput);
            }

            pruner.KillHard();
        }

        var afterKill = await ReadAsync(storePath, connectionString);
        var key = NoteVerifier.Parse(File.ReadAllText(Path.Combine(directory, "writer.key.pub")).Trim());
        VerificationReport report;
        using (IAuditStore opened = connectionString is null ? AuditStore.OpenReadOnly(storePath) : PostgresAuditStore.OpenReadOnly(connectionString))
        {
            report = LogVerifier.VerifyStore(opened, [key]);
        }

        Assert.True(afterKill.Deleted.Count > 0);
        Assert.True(afterKill.Unreadable < OldRecords, $"the run was not cut off: all {OldRecords} records were pruned before the kill");
        // Everything the cut-off run deleted is named by one of its batch records, and nothing else is named.
        Assert.Equal(afterKill.Deleted, afterKill.Named);
        Assert.Equal(afterKill.Unreadable, afterKill.NamedRecords);
        Assert.True(report.Valid, report.Problem);

        // The next start finishes the run; the first run's batch records stay (they explain its prunes).
        using (var finisher = Writer("--Writer:Retention:Default=30.00:00:00"))
        {
            finisher.Start();
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while (await UnreadableAsync(storePath, connectionString) < OldRecords)
            {
                Assert.True(DateTime.UtcNow < deadline, "the restarted writer did not finish the run within 120 s\n" + finisher.RecentOutput);
                await Task.Delay(50);
            }

            await finisher.StopAsync(TimeSpan.FromSeconds(30));
        }

        var finished = await ReadAsync(storePath, connectionString);
        using (IAuditStore opened = connectionString is null ? AuditStore.OpenReadOnly(storePath) : PostgresAuditStore.OpenReadOnly(connectionString))
        {
            report = LogVerifier.VerifyStore(opened, [key]);
        }

        Assert.Equal(finished.Deleted, finished.Named);
        Assert.Equal(OldRecords, finished.NamedRecords);
        Assert.True(report.Valid, report.Problem);
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    private static Task<long> LogSizeAsync(string storePath, string? connectionString) => CountAsync(
        storePath,
        connectionString,
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM records",
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_records");

    /// <summary>SQLite: records pruned to their leaf hash; PostgreSQL: records whose subject key is gone.</summary>
    private static Task<long> UnreadableAsync(string storePath, string? connectionString) => CountAsync(
        storePath,
        connectionString,
        "SELECT COUNT(*) FROM records WHERE length(leaf) = 0",
        "SELECT COUNT(*) FROM audit_records r WHERE r.subject_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_subjects s WHERE s.id = r.subject_id)");

    /// <summary>One count from the store, read-only; 0 while a SQLite store is not created yet.</summary>
    private static async Task<long> CountAsync(string storePath, string? connectionString, string sqliteQuery, string postgresQuery)
    {
        if (connectionString is null)
        {
            if (!File.Exists(storePath))
            {
                return 0;
            }

            await using var sqlite = new SqliteConnection($"Data Source={storePath};Mode=ReadOnly;Pooling=False");
            await sqlite.OpenAsync();
            await using var command = sqlite.CreateCommand();
            command.CommandText = sqliteQuery;
            return (long)(await command.ExecuteScalarAsync())!;
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var pg = new NpgsqlCommand(postgresQuery, connection);
        return (long)(await pg.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// What the store deleted (SQLite: pruned record indices; PostgreSQL: ids of subjects with records but no key), and
    /// what the writer's retention batch records name, read with the test's own parser.
    /// </summary>
    private static async Task<(long Unreadable, SortedSet<long> Deleted, SortedSet<long> Named, long NamedRecords)> ReadAsync(string storePath, string? connectionString)
    {
        var deleted = new SortedSet<long>();
        var leaves = new List<byte[]>();
        if (connectionString is null)
        {
            await using var sqlite = new SqliteConnection($"Data Source={storePath};Mode=ReadOnly;Pooling=False");
            await sqlite.OpenAsync();
            await using var command = sqlite.CreateCommand();
            command.CommandText = "SELECT idx, leaf FROM records";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var leaf = (byte[])reader[1];
                if (leaf.Length == 0)
                {
                    deleted.Add(reader.GetInt64(0));
                }
                else
                {
                    leaves.Add(leaf);
                }
            }
        }
        else
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using (var command = new NpgsqlCommand(
                "SELECT DISTINCT r.subject_id FROM audit_records r WHERE r.subject_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit_subjects s WHERE s.id = r.subject_id)", connection))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    deleted.Add(reader.GetInt64(0));
                }
            }

            await using var all = new NpgsqlCommand("SELECT leaf FROM audit_records", connection);
            await using var leavesReader = await all.ExecuteReaderAsync();
            while (await leavesReader.ReadAsync())
            {
                leaves.Add((byte[])leavesReader[0]);
            }
        }

        var named = new SortedSet<long>();
        var namedRecords = 0L;
        var attribute = connectionString is null ? "prunedIndices" : "shreddedSubjects";
        foreach (var leaf in leaves)
        {
            using var document = JsonDocument.Parse(leaf);
            var root = document.RootElement;
            if (root.GetProperty("type").GetString() != AuditEventTypes.RetentionApplied
                || !root.GetProperty("data").TryGetProperty("attributes", out var attributes)
                || !attributes.TryGetProperty(attribute, out var ranges))
            {
                continue;
            }

            namedRecords += long.Parse(attributes.GetProperty("pruned").GetString()!, CultureInfo.InvariantCulture);
            foreach (var part in ranges.GetString()!.Split(','))
            {
                var bounds = part.Split('-').Select(b => long.Parse(b, CultureInfo.InvariantCulture)).ToArray();
                for (var i = bounds[0]; i <= bounds[^1]; i++)
                {
                    Assert.True(named.Add(i), $"{i} is named by two retention records");
                }
            }
        }

        return (await UnreadableAsync(storePath, connectionString), deleted, named, namedRecords);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, int port, IEnumerable<byte[]> leaves, long lastSequence)
    {
        var content = new ByteArrayContent(leaves.SelectMany(l => l.Append((byte)'\n')).ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue(IngestProtocol.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}{IngestProtocol.Path}") { Content = content };
        request.Headers.Add(IngestProtocol.LastSequenceHeader, lastSequence.ToString(CultureInfo.InvariantCulture));
        return await client.SendAsync(request);
    }
}
