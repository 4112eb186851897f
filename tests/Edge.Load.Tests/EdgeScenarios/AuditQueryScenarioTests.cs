using System.Text;
using Edge.Audit.Storage;
using Edge.AuditWriter.Api;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.Load.Cli;
using Edge.Load.EdgeScenarios;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Edge.Load.Tests.EdgeScenarios;

public sealed class AuditQueryScenarioTests
{
    [Fact]
    public async Task AuditFill_SmallStore_EveryScenarioFilterFindsRecordsThroughTheBlindIndex()
    {
        var directory = Directory.CreateTempSubdirectory("edge-audit-fill-").FullName;
        var store = Path.Combine(directory, "audit.db");
        try
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var exit = await CliApp.RunAsync(["audit-fill", "--store", store, "--records", "5000", "--tenants", "4", "--principals", "50"], stdout, stderr);
            var topUp = await CliApp.RunAsync(["audit-fill", "--store", store, "--records", "5000", "--tenants", "4", "--principals", "50"], stdout, stderr);

            Assert.Equal(0, exit);
            Assert.Equal(0, topUp);
            Assert.Contains("wrote 0 records (5000 in the store)", stdout.ToString(), StringComparison.Ordinal);
            // The writer opens the filled store with the keys audit-fill generated next to it and maps queries as its API does.
            using var log = new AuditLog(
                new WriterOptions { StorePath = store, KeyPath = Path.Combine(directory, "writer.key"), SubjectKeyPath = Path.Combine(directory, "audit-subject.key") },
                TimeProvider.System, NullLogger<AuditLog>.Instance);
            Assert.Equal(5000, log.Store.Count());
            Assert.Equal(5000, log.LatestCheckpoint.Size);
            foreach (var n in Enumerable.Range(0, 20))
            {
                foreach (var filter in AuditQueryScenario.Filters)
                {
                    var query = ReadEndpoints.WithBlindIndex(ToRecordQuery(AuditQueryScenario.Query(filter, n, tenants: 4, principals: 50, records: 5000)), log);
                    var found = log.Store.Query(query);
                    Assert.True(found.Count > 0, $"filter {filter} (n={n}) found nothing");
                    if (query.Principal is { } principal)
                    {
                        // v2 records: the principal is only readable by decrypting the subject with its data key.
                        Assert.All(found, r => Assert.Null(r.Principal));
                        Assert.All(found, r => Assert.NotNull(r.SubjectId));
                        Assert.All(found, r => Assert.Contains("\"protection\":\"aes-256-gcm\"", Encoding.UTF8.GetString(r.Leaf), StringComparison.Ordinal));
                        Assert.All(found, r => Assert.DoesNotContain(principal, Encoding.UTF8.GetString(r.Leaf), StringComparison.Ordinal));
                    }
                }
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task AuditFill_WithoutStore_IsUsageError()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["audit-fill", "--records", "10"], stdout, stderr);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--store is required", stderr.ToString(), StringComparison.Ordinal);
    }

    /// <summary>The writer's own mapping of these parameters (ReadEndpoints), restated for the store directly.</summary>
    private static RecordQuery ToRecordQuery(string queryString)
    {
        var q = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(queryString);
        string? Get(string name) => q.TryGetValue(name, out var v) ? v.ToString() : null;
        var ascending = Get("order") == "asc";
        long? cursor = Get("cursor") is { } c ? long.Parse(c, System.Globalization.CultureInfo.InvariantCulture) : null;
        return new RecordQuery
        {
            Tenant = Get("tenant"),
            Principal = Get("principal"),
            Route = Get("route"),
            Decision = Get("decision"),
            Reason = Get("reason"),
            From = Get("from") is { } from ? DateTimeOffset.Parse(from, System.Globalization.CultureInfo.InvariantCulture) : null,
            To = Get("to") is { } to ? DateTimeOffset.Parse(to, System.Globalization.CultureInfo.InvariantCulture) : null,
            Ascending = ascending,
            Before = ascending ? null : cursor,
            After = ascending ? cursor : null,
            Limit = 100,
        };
    }
}
