using Microsoft.Data.Sqlite;

namespace Edge.AuditWriter.Tests.Protection;

/// <summary>
/// A reader of the store holding an old snapshot (a read transaction that has read), as a long export does: the WAL
/// cannot be truncated under it until it is disposed.
/// </summary>
internal sealed class OldSnapshot : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;

    public OldSnapshot(string storePath)
    {
        _connection = new SqliteConnection($"Data Source={storePath};Mode=ReadOnly;Pooling=False");
        _connection.Open();
        _transaction = _connection.BeginTransaction();
        using var read = _connection.CreateCommand();
        read.Transaction = _transaction;
        read.CommandText = "SELECT COUNT(*) FROM subjects";
        read.ExecuteScalar();
    }

    public void Dispose()
    {
        _transaction.Dispose();
        _connection.Dispose();
    }
}
