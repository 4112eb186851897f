using Edge.AuditWriter.Tests;
using Edge.Testing;

namespace Edge.Cli.Tests.Audit;

/// <summary><c>edge audit verify --postgres</c>: the same checks as on a SQLite file, against a real PostgreSQL store.</summary>
public sealed class AuditVerifyPostgresTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private async Task<(WriterFixture Writer, string ConnectionString, string Database)> WriterWithRecordsAsync(int count)
    {
        var database = await postgres.Server.CreateDatabaseAsync();
        var connectionString = postgres.Server.ConnectionString(database);
        var writer = await WriterFixture.StartAsync(extraArgs: [$"--Writer:Postgres={connectionString}", "--Writer:LeaseInterval=00:00:00.100"]);
        var leaves = Enumerable.Range(0, count).Select(i => WriterFixture.Leaf($"r{i}", i % 2 == 0 ? "acme" : "globex")).ToList();
        for (var attempt = 0; ; attempt++)
        {
            // The writer takes the sequencer lease within its first lease interval.
            using var response = await writer.IngestAsync(leaves, count);
            if (response.IsSuccessStatusCode)
            {
                break;
            }

            Assert.True(attempt < 50, $"ingest kept failing: {response.StatusCode}");
            await Task.Delay(100);
        }

        await writer.WaitForCheckpointAsync(count);
        await writer.StopAppAsync();
        return (writer, connectionString, database);
    }

    [Fact]
    public async Task VerifyPostgres_UntouchedStoreByEnvReference_ReportsOk()
    {
        var (writer, connectionString, _) = await WriterWithRecordsAsync(30);
        await using var _ = writer;
        var variable = "EDGE_TEST_PG_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, connectionString);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--postgres", "env:" + variable, "--key", writer.KeyPath + ".pub");

        Environment.SetEnvironmentVariable(variable, null);
        Assert.Equal(0, exitCode);
        Assert.StartsWith("OK: 30 records", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyPostgres_OwnerDisablesTriggerAndRewritesARecord_ReportsThatIndex()
    {
        var (writer, connectionString, database) = await WriterWithRecordsAsync(30);
        await using var _ = writer;
        await postgres.Server.ExecuteAsync(database, """
            ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only;
            UPDATE audit_records SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), '"decision":"allow"', '"decision":"allaw"'), 'UTF8') WHERE idx = 17;
            """);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--postgres", connectionString, "--key", writer.KeyPath + ".pub");

        Assert.Equal(1, exitCode);
        Assert.Contains("first bad index 17", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyPostgres_OwnerDisablesTriggerAndRewritesALevel0Tile_ReportsThatTile()
    {
        var (writer, connectionString, database) = await WriterWithRecordsAsync(600);
        await using var _ = writer;
        var (okExit, okOutput, _) = await CliRunner.RunAsync("audit", "verify", "--postgres", connectionString, "--key", writer.KeyPath + ".pub");
        // Level-0 tile 1 is not read for the root (level 1 holds its hash), so only a recomputation finds this.
        await postgres.Server.ExecuteAsync(database, """
            ALTER TABLE audit_tiles DISABLE TRIGGER audit_tiles_append_only;
            UPDATE audit_tiles SET hashes = decode(repeat('00', 8192), 'hex') WHERE level = 0 AND idx = 1;
            """);

        var (exitCode, output, _) = await CliRunner.RunAsync("audit", "verify", "--postgres", connectionString, "--key", writer.KeyPath + ".pub");

        Assert.Equal(0, okExit);
        Assert.StartsWith("OK: 600 records", okOutput, StringComparison.Ordinal);
        Assert.Equal(1, exitCode);
        Assert.Contains("first bad index 256", output, StringComparison.Ordinal);
        Assert.Contains("tile/0/001 does not match the records", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyPostgres_DatabaseWithoutStore_FailsWithoutCreatingOne()
    {
        var database = await postgres.Server.CreateDatabaseAsync();
        var key = Path.Combine(Directory.CreateTempSubdirectory("edge-cli-pg-").FullName, "k.pub");
        using (var signer = Edge.Audit.Checkpoints.NoteSigner.Generate("edge-audit"))
        {
            await File.WriteAllTextAsync(key, signer.Verifier + "\n");
        }

        var (exitCode, output, error) = await CliRunner.RunAsync("audit", "verify", "--postgres", postgres.Server.ConnectionString(database), "--key", key);

        Assert.True(exitCode == 1, output + error);
        Assert.Contains("FAIL: the store cannot be read", output, StringComparison.Ordinal);
    }
}
