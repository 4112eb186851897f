using Edge.AuditWriter.Hosting;
using Microsoft.Data.Sqlite;

namespace Edge.AuditWriter.Tests.Log;

/// <summary>A temporary folder holding one writer's SQLite store and keys; deleted on dispose.</summary>
internal sealed class WriterStoreDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public WriterOptions Options => new()
    {
        StorePath = System.IO.Path.Combine(Path, "audit.db"),
        KeyPath = System.IO.Path.Combine(Path, "keys", "writer.key"),
        SubjectKeyPath = System.IO.Path.Combine(Path, "keys", "subject.key"),
        Origin = "test.edge/audit",
    };

    public void Dispose()
    {
        // Pooled connections keep the store open; the folder cannot go while they do.
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path, recursive: true);
    }
}
