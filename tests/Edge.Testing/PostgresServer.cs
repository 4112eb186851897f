using System.Diagnostics;
using Npgsql;
using Xunit;

namespace Edge.Testing;

/// <summary>
/// A real PostgreSQL (Debian's postgresql package: initdb + pg_ctl) in a temp directory on a free loopback port, started for
/// the tests and stopped at the end. PostgreSQL refuses to run as root, so as root it runs as the <c>postgres</c> user
/// (runuser) with the data directory handed to it. Trust authentication on 127.0.0.1 only; the superuser is
/// <c>postgres</c>. fsync is off: the tests need the engine's behaviour, not its durability (the benchmark runs with fsync on).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _binaries;
    private readonly bool _asPostgresUser;

    private PostgresServer(string directory, string binaries, int port)
    {
        _directory = directory;
        _binaries = binaries;
        Port = port;
        _asPostgresUser = GetUid() == 0;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>Superuser connection string to <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres", string user = "postgres", string? password = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = user,
            Password = password,
            Pooling = true,
            Timeout = 5,
        }.ConnectionString;

    public static async Task<PostgresServer> StartAsync()
    {
        const int Attempts = 5;
        var binaries = FindBinaries();
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("edge-postgres-").FullName;
            var server = new PostgresServer(directory, binaries, FreePort.Next());
            try
            {
                await server.InitAndStartAsync();
                return server;
            }
            catch (InvalidOperationException ex) when (attempt < Attempts && ex.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                // Another process bound the port between FreePort and pg_ctl (a CI run once failed a whole class on it);
                // a new port, as RedisServer does.
                await server.DisposeAsync();
            }
        }
    }

    public static string FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        var found = Directory.Exists(root)
            ? Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException(
            "PostgreSQL was not found under /usr/lib/postgresql/*/bin. The PostgreSQL store tests need a real server: install it with "
            + "'apt-get update && apt-get install -y postgresql' (test.sh does this).");
    }

    /// <summary>A new empty database; each test gets its own, so tests of one fixture do not see each other's logs.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= "edge_" + Guid.NewGuid().ToString("N")[..12];
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return name;
    }

    /// <summary>Runs SQL as the superuser in <paramref name="database"/>.</summary>
    public async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task InitAndStartAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        if (_asPostgresUser)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", _directory]);
        }

        await RunAsync(Path.Combine(_binaries, "initdb"),
            ["-D", DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions", "--no-sync"], asPostgres: true);
        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -k {_directory} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
        await RunAsync(Path.Combine(_binaries, "pg_ctl"),
            ["start", "-w", "-t", "30", "-D", DataDirectory, "-l", Path.Combine(_directory, "postgres.log"), "-o", options], asPostgres: true);
    }

    private async Task RunAsync(string file, IReadOnlyList<string> arguments, bool asPostgres = false)
    {
        var info = new ProcessStartInfo(asPostgres && _asPostgresUser ? "/usr/sbin/runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        if (asPostgres && _asPostgresUser)
        {
            foreach (var arg in new[] { "-u", "postgres", "--", file })
            {
                info.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in arguments)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            var log = Path.Combine(_directory, "postgres.log");
            throw new InvalidOperationException(
                $"{Path.GetFileName(file)} failed ({process.ExitCode}): {await stdout} {await stderr} {(File.Exists(log) ? await File.ReadAllTextAsync(log) : "")}");
        }
    }

    private static uint GetUid()
    {
        try
        {
            var status = File.ReadAllLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            return status is null ? uint.MaxValue : uint.Parse(status.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return uint.MaxValue;
        }
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await RunAsync(Path.Combine(_binaries, "pg_ctl"), ["stop", "-m", "immediate", "-w", "-D", DataDirectory], asPostgres: true);
        }
        catch (InvalidOperationException)
        {
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>xunit class fixture: one PostgreSQL shared by the tests of a class (each test creates its own database).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("PostgreSQL fixture not started");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
