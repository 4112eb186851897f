using System.Diagnostics;
using System.Globalization;
using Edge.Testing;
using StackExchange.Redis;

namespace Edge.Load.RateLimits;

/// <summary>
/// The Redis the harness measures against: a redis-server or a real 3-master cluster it starts itself (the same
/// fixtures the tests use), or an existing one given by connection string. Freezing (SIGSTOP) is only ever sent to a
/// process the harness started, or to the pid it was given for an existing server.
/// </summary>
internal sealed class RedisUnderTest : IAsyncDisposable
{
    private readonly RedisServer? _server;
    private readonly RedisCluster? _cluster;
    private readonly int? _pid;

    private RedisUnderTest(string kind, string connectionString, RedisServer? server, RedisCluster? cluster, int? pid)
    {
        Kind = kind;
        ConnectionString = connectionString;
        _server = server;
        _cluster = cluster;
        _pid = pid;
    }

    /// <summary><c>single</c>, <c>cluster</c> or <c>external</c>.</summary>
    public string Kind { get; }

    public string ConnectionString { get; }

    public bool CanFreeze => _server is not null || _cluster is not null || _pid is not null;

    public static async Task<RedisUnderTest> StartAsync(string kind) => kind switch
    {
        "single" => await StartSingleAsync().ConfigureAwait(false),
        "cluster" => await StartClusterAsync().ConfigureAwait(false),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "single or cluster"),
    };

    public static RedisUnderTest Attach(string connectionString, int? pid) => new("external", connectionString, null, null, pid);

    /// <summary>Script calls (EVALSHA + EVAL) the server has counted, summed over every primary of a cluster.</summary>
    public async Task<long> ScriptCallsAsync()
    {
        using var admin = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true").ConfigureAwait(false);
        long calls = 0;
        foreach (var server in admin.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var info = await server.InfoAsync("commandstats").ConfigureAwait(false);
            calls += info.SelectMany(g => g)
                .Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval")
                .Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture));
        }

        return calls;
    }

    /// <summary>SIGSTOPs the server that holds <paramref name="redisKey"/> (on a cluster: its master); returns a way to SIGCONT it.</summary>
    public async Task<Action> FreezeAsync(string redisKey)
    {
        if (_cluster is not null)
        {
            var node = await _cluster.NodeOfAsync(redisKey).ConfigureAwait(false);
            node.Pause();
            return node.Resume;
        }

        if (_server is not null)
        {
            _server.Pause();
            return _server.Resume;
        }

        if (_pid is { } pid)
        {
            Signal(pid, "STOP");
            return () => Signal(pid, "CONT");
        }

        throw new InvalidOperationException("no process to freeze: pass --redis-pid with --redis-connect");
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<RedisUnderTest> StartSingleAsync()
    {
        var server = await RedisServer.StartAsync().ConfigureAwait(false);
        return new RedisUnderTest("single", server.ConnectionString, server, null, null);
    }

    private static async Task<RedisUnderTest> StartClusterAsync()
    {
        var cluster = await RedisCluster.StartAsync().ConfigureAwait(false);
        return new RedisUnderTest("cluster", cluster.ConnectionString, null, cluster, null);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid.ToString(CultureInfo.InvariantCulture)}");
        kill.WaitForExit(5000);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} failed with exit code {kill.ExitCode}");
        }
    }
}
