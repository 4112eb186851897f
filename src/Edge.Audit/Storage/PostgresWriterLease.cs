using Npgsql;

namespace Edge.Audit.Storage;

/// <summary>
/// The sequencer lease: a session advisory lock (<see cref="Key"/>) held on one dedicated connection. PostgreSQL releases it
/// when that session ends, so a writer that is killed (or whose connection breaks) loses the lease as soon as the server
/// sees the connection close, and a standby's next <see cref="TryAcquire"/> wins it. Not thread-safe: one caller (the
/// writer's lease loop) drives it.
/// </summary>
public sealed class PostgresWriterLease(string connectionString) : IDisposable
{
    /// <summary>The advisory lock key every writer of one database competes for ("EDGE" "LEAD").</summary>
    public const long Key = 0x45444745_4C454144;

    private NpgsqlConnection? _connection;

    /// <summary>The server process id of the lease connection while the lease is held; append transactions check it.</summary>
    public int? BackendPid { get; private set; }

    public bool Held => BackendPid is not null;

    /// <summary>Tries once to take the lease; true when this writer holds it now.</summary>
    public bool TryAcquire()
    {
        if (Held)
        {
            return true;
        }

        try
        {
            _connection ??= OpenConnection();
            using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", _connection);
            command.Parameters.AddWithValue("key", Key);
            if (command.ExecuteScalar() is true)
            {
                BackendPid = _connection.ProcessID;
                return true;
            }

            return false;
        }
        catch (NpgsqlException)
        {
            Reset();
            throw;
        }
    }

    /// <summary>Checks the lease connection with a round trip; false (and the lease dropped) when it is gone.</summary>
    public bool IsAlive()
    {
        if (_connection is null || !Held)
        {
            return false;
        }

        try
        {
            using var command = new NpgsqlCommand("SELECT 1", _connection) { CommandTimeout = 2 };
            command.ExecuteScalar();
            return true;
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
        {
            Reset();
            return false;
        }
    }

    private NpgsqlConnection OpenConnection()
    {
        // Its own physical connection: a pooled one could be handed back and its session (and lock) reused elsewhere.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, KeepAlive = 1, ApplicationName = "edge-audit-lease" };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Closes the lease connection, which releases the lease.</summary>
    public void Reset()
    {
        BackendPid = null;
        _connection?.Dispose();
        _connection = null;
    }

    public void Dispose() => Reset();
}
