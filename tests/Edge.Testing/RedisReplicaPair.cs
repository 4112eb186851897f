using System.Globalization;

namespace Edge.Testing;

/// <summary>
/// A real redis-server primary and its replica (no cluster), as an <c>Edge:Redis</c> listing both names them, whose
/// roles a test can swap the way an operator's <c>REPLICAOF</c> or a managed service's failover does.
/// </summary>
public sealed class RedisReplicaPair : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private RedisReplicaPair(RedisServer primary, RedisServer replica)
    {
        Primary = primary;
        Replica = replica;
    }

    /// <summary>The server started as the primary (a replica after <see cref="SwapRolesAsync"/>).</summary>
    public RedisServer Primary { get; }

    /// <summary>The server started as the replica (the primary after <see cref="SwapRolesAsync"/>).</summary>
    public RedisServer Replica { get; }

    /// <summary>Both servers, with the client's short timeouts of <see cref="RedisServer.ConnectionString"/>.</summary>
    public string ConnectionString => $"127.0.0.1:{Primary.Port},127.0.0.1:{Replica.Port},abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";

    /// <summary>Starts both and waits until the replica's link to the primary is up.</summary>
    public static async Task<RedisReplicaPair> StartAsync()
    {
        var primary = await RedisServer.StartAsync();
        var replica = await RedisServer.StartAsync(extraArguments: ["--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)]);
        var pair = new RedisReplicaPair(primary, replica);
        using var admin = replica.Connect();
        await WaitForAsync(async () => ((string?)await admin.GetDatabase().ExecuteAsync("INFO", "replication"))!.Contains("master_link_status:up", StringComparison.Ordinal));
        return pair;
    }

    /// <summary>Promotes the replica and makes the old primary its replica: the old primary then answers writes READONLY.</summary>
    public async Task SwapRolesAsync()
    {
        using (var admin = Replica.Connect())
        {
            await admin.GetDatabase().ExecuteAsync("REPLICAOF", "NO", "ONE");
        }

        using (var admin = Primary.Connect())
        {
            await admin.GetDatabase().ExecuteAsync("REPLICAOF", "127.0.0.1", Replica.Port.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms and fails the test when it does not hold within 15 s.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException("condition not met within 15 s");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Replica.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
