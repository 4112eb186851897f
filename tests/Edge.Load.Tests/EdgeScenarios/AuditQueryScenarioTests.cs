using Edge.Audit.Storage;
using Edge.Load.Cli;
using Edge.Load.EdgeScenarios;
using Microsoft.Data.Sqlite;

namespace Edge.Load.Tests.EdgeScenarios;

public sealed class AuditQueryScenarioTests
{
    [Fact]
    public async Task AuditFill_SmallStore_EveryScenarioFilterFindsRecords()
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
            using var opened = AuditStore.OpenReadOnly(store);
            Assert.Equal(5000, opened.Count());
            foreach (var n in Enumerable.Range(0, 20))
            {
                foreach (var filter in AuditQueryScenario.Filters)
                {
                    var query = ToRecordQuery(AuditQueryScenario.Query(filter, n, tenants: 4, principals: 50, records: 5000));
                    Assert.True(opened.Query(query).Count > 0, $"filter {filter} (n={n}) found nothing");
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
