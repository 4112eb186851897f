using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Edge.Load.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Edge.Load.Tests.EdgeScenarios;

public sealed class AuditIngestLoadTests
{
    [Fact]
    public async Task AuditIngest_AgainstARealWriter_StoresEveryRecordOncePerRoundAndReportsCpuPerRecord()
    {
        var directory = Directory.CreateTempSubdirectory("edge-audit-ingest-").FullName;
        var store = Path.Combine(directory, "audit.db");
        Environment.SetEnvironmentVariable("EDGE_LOAD_TEST_INGEST_TOKEN", "ingest-token-0123456789");
        var app = WriterApp.Build(
        [
            "--urls", "http://127.0.0.1:0", $"--Writer:StorePath={store}", $"--Writer:KeyPath={Path.Combine(directory, "writer.key")}",
            $"--Writer:SubjectKeyPath={Path.Combine(directory, "subject.key")}", "--Writer:IngestToken=env:EDGE_LOAD_TEST_INGEST_TOKEN",
            "--Writer:CheckpointInterval=00:00:00.100", "--Serilog:MinimumLevel:Default=Warning",
        ]);
        try
        {
            await app.StartAsync();
            var target = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();

            // The writer runs in this process, so its CPU is this process's: the figure is an upper bound here.
            var exit = await CliApp.RunAsync(
            [
                "audit-ingest", "--target", target, "--writer-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--records", "600", "--batch", "250", "--rounds", "2", "--tenants", "3", "--principals", "20",
                "--token", "env:EDGE_LOAD_TEST_INGEST_TOKEN",
            ], stdout, stderr);

            Assert.True(exit == 0, stderr.ToString());
            var rows = stdout.ToString().Split('\n').Where(l => l.StartsWith("| 1 ", StringComparison.Ordinal) || l.StartsWith("| 2 ", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, rows.Count);
            Assert.All(rows, row => Assert.True(double.Parse(row.Split('|')[10], System.Globalization.CultureInfo.InvariantCulture) > 0, row));
            using var reader = AuditStore.OpenReadOnly(store);
            Assert.Equal(1200, reader.Count());
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("audit-ingest", "--writer-pid", "1")]
    [InlineData("audit-ingest", "--target", "http://127.0.0.1:1", "--writer-pid", "1", "--encoding", "deflate")]
    [InlineData("audit-ingest", "--target", "http://127.0.0.1:1", "--writer-pid", "1", "--batch", "0")]
    public async Task AuditIngest_BadOptions_IsUsageError(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(args, stdout, stderr);

        Assert.Equal(2, exit);
        Assert.Contains("audit-ingest", stderr.ToString(), StringComparison.Ordinal);
    }
}
