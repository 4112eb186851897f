using System.Diagnostics;
using StackExchange.Redis;

namespace Edge.Testing;

/// <summary>
/// A real 3-master Redis Cluster on free loopback ports (no replicas unless asked for): <c>redis-server --cluster-enabled
/// yes</c> processes joined by <c>redis-cli --cluster create</c>, ready once every node reports <c>cluster_state:ok</c>
/// (and, with replicas, each master has its replica attached).
/// <c>cluster-require-full-coverage no</c>: with one master down (no replica to fail over to) the others keep serving
/// their own slots instead of refusing every key with CLUSTERDOWN once the node is marked failed.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private readonly int _replicasPerMaster;

    private RedisCluster(IReadOnlyList<RedisServer> nodes, int replicasPerMaster) => (Nodes, _replicasPerMaster) = (nodes, replicasPerMaster);

    /// <summary>Every node; with replicas, the masters and their replicas as <c>redis-cli --cluster create</c> assigned them.</summary>
    public IReadOnlyList<RedisServer> Nodes { get; }

    /// <summary>Every node, as <c>Edge:Redis</c> takes it: the client discovers the slot map from any of them.</summary>
    public string ConnectionString =>
        string.Join(",", Nodes.Select(n => $"127.0.0.1:{n.Port}")) + ",abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";

    /// <summary>
    /// Starts the cluster; <paramref name="replicasPerMaster"/> replicas per master make a failover possible (a frozen
    /// or killed master's replica is promoted <c>cluster-node-timeout</c>, 2 s, later).
    /// </summary>
    public static async Task<RedisCluster> StartAsync(int replicasPerMaster = 0)
    {
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < 3 * (1 + replicasPerMaster); i++)
            {
                // The bus port is chosen free too: redis's default (port + 10000) may be taken, or beyond 65535.
                nodes.Add(await RedisServer.StartAsync(null, port =>
                [
                    "--cluster-enabled", "yes", "--cluster-port", FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--cluster-config-file", $"nodes-{port}.conf", "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no",
                ]));
            }

            var cluster = new RedisCluster(nodes, replicasPerMaster);
            await cluster.CreateAsync();
            return cluster;
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// An admin connection. <paramref name="timeout"/> replaces the fixture's 1 s command timeout: a test that drives the
    /// cluster while it loads the same process (thread pool starved) must not fail on its own admin commands.
    /// </summary>
    public IConnectionMultiplexer Connect(TimeSpan? timeout = null) => ConnectionMultiplexer.Connect(
        ConnectionString + ",allowAdmin=true" + (timeout is { } t ? $",asyncTimeout={(int)t.TotalMilliseconds},syncTimeout={(int)t.TotalMilliseconds}" : ""));

    /// <summary>The node that serves <paramref name="key"/>'s hash slot.</summary>
    public async Task<RedisServer> NodeOfAsync(string key)
    {
        using var connection = Connect();
        var endpoint = await connection.GetDatabase().IdentifyEndpointAsync(key) ?? throw new InvalidOperationException($"no endpoint for {key}");
        var port = ((System.Net.IPEndPoint)endpoint).Port;
        return Nodes.Single(n => n.Port == port);
    }

    /// <summary>Whether <paramref name="node"/> answers <c>ROLE</c> as a master now (raw, so a frozen node elsewhere cannot hold it up).</summary>
    public static async Task<bool> IsMasterAsync(RedisServer node) => (await node.RoleAsync()) == "master";

    /// <summary>The nodes that answer <c>ROLE</c> as replicas now.</summary>
    public async Task<IReadOnlyList<RedisServer>> ReplicasAsync()
    {
        var replicas = new List<RedisServer>();
        foreach (var node in Nodes)
        {
            if (!await IsMasterAsync(node))
            {
                replicas.Add(node);
            }
        }

        return replicas;
    }

    /// <summary>Whether one of <paramref name="replicas"/> answers <c>ROLE</c> as a master now: the cluster promoted it.</summary>
    public static async Task<bool> AnyPromotedAsync(IEnumerable<RedisServer> replicas)
    {
        foreach (var replica in replicas)
        {
            if (await IsMasterAsync(replica))
            {
                return true;
            }
        }

        return false;
    }

    private async Task<bool> ReplicasAttachedAsync(IServer server)
    {
        if (_replicasPerMaster == 0)
        {
            return true;
        }

        // A replica counts once its link to the master is up: before, a failover would find nothing to promote.
        var role = await server.ExecuteAsync("ROLE");
        var parts = (RedisResult[])role!;
        return (string?)parts[0] switch
        {
            "master" => ((RedisResult[])parts[2]!).Length == _replicasPerMaster,
            "slave" => (string?)parts[3] == "connected",
            _ => false,
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task CreateAsync()
    {
        var info = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(RedisServer.FindExecutable())!, "redis-cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--cluster");
        info.ArgumentList.Add("create");
        foreach (var node in Nodes)
        {
            info.ArgumentList.Add($"127.0.0.1:{node.Port}");
        }

        info.ArgumentList.Add("--cluster-replicas");
        info.ArgumentList.Add(_replicasPerMaster.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add("--cluster-yes");
        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-cli did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({process.ExitCode}): {await output} {await error}");
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        foreach (var node in Nodes)
        {
            using var connection = ConnectionMultiplexer.Connect($"127.0.0.1:{node.Port},abortConnect=false,allowAdmin=true");
            while (true)
            {
                var state = (string?)await connection.GetServer($"127.0.0.1:{node.Port}").ExecuteAsync("CLUSTER", "INFO");
                if (state is not null && state.Contains("cluster_state:ok", StringComparison.Ordinal) && await ReplicasAttachedAsync(connection.GetServer($"127.0.0.1:{node.Port}")))
                {
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"cluster node {node.Port} not ok within 20 s: {state}");
                }

                await Task.Delay(100);
            }
        }
    }
}
