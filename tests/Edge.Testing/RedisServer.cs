using System.Diagnostics;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Edge.Testing;

/// <summary>
/// A real redis-server process on a free loopback port, started for the test and killed at the end. Never skipped:
/// when redis-server is missing, the test fails and says how to install it.
/// </summary>
public sealed class RedisServer : IAsyncDisposable, IDisposable
{
    private const int MinPings = 20;

    private Process? _process;
    private readonly string _directory;
    private readonly IReadOnlyList<string> _extraArguments;

    private RedisServer(int port, IReadOnlyList<string> extraArguments)
    {
        Port = port;
        _extraArguments = extraArguments;
        _directory = Directory.CreateTempSubdirectory("edge-redis-").FullName;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>
    /// Starts redis-server; <paramref name="extraArguments"/> are added to its command line (e.g. cluster mode). Without a
    /// fixed <paramref name="port"/>, a server that exits at start (its free port taken by another process between the
    /// probe and the bind) is started again on another port.
    /// </summary>
    public static async Task<RedisServer> StartAsync(int? port = null, IReadOnlyList<string>? extraArguments = null) =>
        await StartAsync(port, _ => extraArguments ?? []);

    /// <summary>As above, with arguments chosen per attempted port (a cluster node names its config file after it).</summary>
    public static async Task<RedisServer> StartAsync(int? port, Func<int, IReadOnlyList<string>> extraArguments)
    {
        const int Attempts = 5;
        for (var attempt = 1; ; attempt++)
        {
            var chosen = port ?? FreePort.Next();
            var server = new RedisServer(chosen, extraArguments(chosen));
            try
            {
                await server.StartProcessAsync();
                return server;
            }
            catch (RedisStartException) when (port is null && attempt < Attempts)
            {
                server.Dispose();
            }
            catch
            {
                server.Dispose();
                throw;
            }
        }
    }

    public static string FindExecutable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "redis-server was not found on PATH. The Redis tests need a real server: install it with " +
            "'apt-get update && apt-get install -y redis-server' (.ci/run does this).");
    }

    /// <summary>Kills the process (like a crash); the port stays reserved for <see cref="RestartAsync"/>.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
    }

    /// <summary>Freezes the process with SIGSTOP: connections stay open but nothing answers (a blackhole).</summary>
    public void Pause() => Signal("STOP");

    public void Resume() => Signal("CONT");

    public async Task RestartAsync()
    {
        Kill();
        await StartProcessAsync();
    }

    /// <summary>
    /// A test's own connection, to inspect or administer the server. Its timeouts are far longer than the edge's (1 s
    /// in <see cref="ConnectionString"/>): a SCAN that took over a second, and once an EVAL that took over five, on a
    /// CI host running every test project at once failed tests that were not about timeouts (later options override
    /// earlier ones).
    /// </summary>
    public IConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect(ConnectionString + ",allowAdmin=true,syncTimeout=30000,asyncTimeout=30000");

    public void Dispose()
    {
        if (_process is not null)
        {
            try
            {
                Resume();
            }
            catch (InvalidOperationException)
            {
            }

            Kill();
            _process.Dispose();
            _process = null;
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo(FindExecutable())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        foreach (var arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", _directory }.Concat(_extraArguments))
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (line is not null)
            {
                output.Enqueue(line);
                while (output.Count > 20 && output.TryDequeue(out _))
                {
                }
            }
        }

        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var pings = 0;
        string? lastFailure = null;
        // At least MinPings tries as well as the 10 s: on a loaded CI host a starved test process once made one try in
        // 10 s (its 50 ms delay came back after the deadline) while the server had been ready for 9.9 of them.
        while (DateTime.UtcNow < deadline || pings < MinPings)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                throw new RedisStartException(
                    $"redis-server exited with code {_process.ExitCode} on port {Port}: {string.Join(" | ", output)}");
            }

            pings++;
            if ((lastFailure = await PingAsync()) is null)
            {
                return;
            }

            await Task.Delay(50);
        }

        // What the wait saw, so a timeout on a loaded CI host says whether the server or the test process was stuck.
        throw new TimeoutException(
            $"redis-server on port {Port} did not answer PING within 10 s and {MinPings} tries ({pings} tries, last: {lastFailure}; " +
            $"thread pool: {ThreadPool.ThreadCount} threads, {ThreadPool.PendingWorkItemCount} queued; output: {string.Join(" | ", output)})");
    }

    /// <summary>
    /// The first element of <c>ROLE</c> (<c>master</c>, <c>slave</c>), on a connection of its own without a client
    /// library (which would follow the cluster and wait on a frozen node); null when the server does not answer in 1 s.
    /// </summary>
    public async Task<string?> RoleAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("ROLE\r\n"u8.ToArray());
            var buffer = new byte[64];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var read = await stream.ReadAsync(buffer, cts.Token);
            // *3\r\n$6\r\nmaster\r\n… or *5\r\n$5\r\nslave\r\n…
            var lines = System.Text.Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n");
            return lines.Length > 2 ? lines[2] : null;
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Null when the server answered +PONG within a second, otherwise what went wrong.</summary>
    private async Task<string?> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var read = await stream.ReadAsync(buffer, cts.Token);
            var answer = System.Text.Encoding.ASCII.GetString(buffer, 0, read);
            return answer.StartsWith("+PONG", StringComparison.Ordinal) ? null : $"answered '{answer.TrimEnd()}'";
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }

    private void Signal(string signal)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        using var kill = Process.Start("kill", $"-{signal} {process.Id}");
        kill.WaitForExit(5000);
    }
}

/// <summary>redis-server exited before it answered PING; its last output lines are in the message.</summary>
public sealed class RedisStartException(string message) : InvalidOperationException(message);
