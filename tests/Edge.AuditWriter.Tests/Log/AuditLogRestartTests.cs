using System.Diagnostics;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Edge.AuditWriter.Tests.Log;

/// <summary>Alone, so other tests' allocations do not blur the managed-memory figures.</summary>
[CollectionDefinition(nameof(AuditLogRestartTests), DisableParallelization = true)]
public sealed class AuditLogRestartCollection;

[Collection(nameof(AuditLogRestartTests))]
public sealed class AuditLogRestartTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edge-audit-restart-").FullName;

    /// <summary>
    /// The bar: a log of 1M records restarts in under 2 s, and start-up retains and allocates no more managed
    /// memory than for a log of 1,000 (the in-memory tree it replaces kept 64 B per record: 64 MB here).
    /// </summary>
    [Fact]
    public void Open_MillionRecords_RestartsUnder2sWithTheMemoryOfASmallLog()
    {
        var small = Options("small");
        var large = Options("large");
        var fill = Stopwatch.StartNew();
        FillFast(small.StorePath, 1000);
        FillFast(large.StorePath, 1_000_000);
        output.WriteLine($"filled 1M records (no tiles) in {fill.ElapsedMilliseconds} ms");

        var build = Stopwatch.StartNew();
        using (new AuditLog(small, TimeProvider.System, NullLogger<AuditLog>.Instance))
        using (new AuditLog(large, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
            output.WriteLine($"first start (builds the tiles of 1M records once) in {build.ElapsedMilliseconds} ms");
        }

        SqliteConnection.ClearAllPools();
        var (smallElapsed, smallRetained, smallAllocated) = Restart(small, 1000);
        var (largeElapsed, largeRetained, largeAllocated) = Restart(large, 1_000_000);
        output.WriteLine($"restart 1K: {smallElapsed.TotalMilliseconds:F0} ms, retained {smallRetained / 1024} KiB, allocated {smallAllocated / 1024} KiB");
        output.WriteLine($"restart 1M: {largeElapsed.TotalMilliseconds:F0} ms, retained {largeRetained / 1024} KiB, allocated {largeAllocated / 1024} KiB");

        Assert.True(largeElapsed < TimeSpan.FromSeconds(2), $"restart took {largeElapsed}");
        // Flat: a few KiB of edge and a few cached tiles more at 1M, never anything per record (1M × 64 B = 61 MiB).
        Assert.True(largeRetained - smallRetained < 2 * 1024 * 1024, $"retained {largeRetained} B at 1M vs {smallRetained} B at 1K");
        Assert.True(largeAllocated - smallAllocated < 2 * 1024 * 1024, $"allocated {largeAllocated} B at 1M vs {smallAllocated} B at 1K");
    }

    private static (TimeSpan Elapsed, long Retained, long Allocated) Restart(WriterOptions options, long expectedSize)
    {
        // Warm the code paths once, so JIT and first-use costs count for neither size.
        using (new AuditLog(options, TimeProvider.System, NullLogger<AuditLog>.Instance))
        {
        }

        SqliteConnection.ClearAllPools();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        var log = new AuditLog(options, TimeProvider.System, NullLogger<AuditLog>.Instance);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Equal(expectedSize, log.Size);
        var retained = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(log);
        log.Dispose();
        SqliteConnection.ClearAllPools();
        return (elapsed, retained, allocated);
    }

    /// <summary>
    /// Records (without tiles, as a writer from before tiles left them) by one INSERT ... SELECT inside SQLite: a
    /// tenth of the time of appending them one by one through the store, which keeps this test near 10 s. The leaf
    /// hashes are random: this test is about start-up; the tile and proof tests check the hashes.
    /// </summary>
    private static void FillFast(string storePath, long count)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(storePath)!);
        using (Edge.Audit.Storage.AuditStore.Open(storePath))
        {
        }

        using var connection = new SqliteConnection($"Data Source={storePath}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $count)
            INSERT INTO records (idx, record_id, time_ms, leaf, leaf_hash) SELECT i, 'r' || i, i, X'7B7D', randomblob(32) FROM n
            """;
        command.Parameters.AddWithValue("$count", count);
        Assert.Equal(count, command.ExecuteNonQuery());
    }

    private WriterOptions Options(string name) => new()
    {
        StorePath = Path.Combine(_directory, name, "audit.db"),
        KeyPath = Path.Combine(_directory, "keys", "writer.key"),
        SubjectKeyPath = Path.Combine(_directory, "keys", "subject.key"),
        Origin = "test.edge/audit",
    };

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
