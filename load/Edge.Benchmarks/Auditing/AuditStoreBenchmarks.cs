using BenchmarkDotNet.Attributes;
using Edge.Audit.Storage;
using Microsoft.Data.Sqlite;

namespace Edge.Benchmarks.Auditing;

/// <summary>
/// The writer's ingest commit: one durable SQLite transaction per batch (what POST /audit/ingest ends in), on a real
/// file in the temp folder. Records per second = batch size / mean.
/// </summary>
[MemoryDiagnoser]
public class AuditStoreBenchmarks
{
    private string _directory = "";
    private AuditStore _store = null!;
    private PendingLeaf[] _batch = [];
    private long _next;

    [Params(100, 1_000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("edge-benchmarks-store-").FullName;
        _store = AuditStore.Open(Path.Combine(_directory, "audit.db"));
    }

    // Fresh record ids per invocation: the store skips ids it already holds, which would measure nothing.
    [IterationSetup]
    public void NewBatch() => _batch = [.. Enumerable.Range(0, BatchSize).Select(AuditSamples.Leaf)];

    [Benchmark]
    public int AppendBatch()
    {
        var appended = _store.Append(_batch, _next).Count;
        _next += appended;
        return appended;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
