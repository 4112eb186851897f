using System.Diagnostics;
using StackExchange.Redis;

namespace Edge.Proxy.Redis;

/// <summary>
/// The single shared Redis connection, present only when <c>Edge:Redis</c> is set (one server, or several nodes of a
/// Redis Cluster separated by commas). The host connects it before the proxy listener starts
/// (<see cref="ConnectAsync"/>, from the warm-up service); the multiplexer then reconnects by itself. Commands to a
/// node that is down fail at once instead of queueing (<see cref="BacklogPolicy.FailFast"/>): every caller has its
/// own outage mode, and a queued command would only answer late.
/// </summary>
internal sealed partial class EdgeRedis : IDisposable
{
    /// <summary>The shortest time between two slot-map refreshes asked for by failing commands.</summary>
    public static readonly TimeSpan SlotMapRefreshInterval = TimeSpan.FromSeconds(1);

    private readonly ConfigurationOptions? _options;
    private readonly Lazy<Task<IConnectionMultiplexer>>? _connection;
    private readonly ILogger _logger;
    private int _refreshingSlotMap;
    private long _lastSlotMapRefresh;
    // A refresh asked for while one ran or within the interval, due once allowed: 1 pending, 2 for a demoted server.
    private int _pendingRefresh;

    public EdgeRedis(string? configuration, ILogger<EdgeRedis>? logger = null)
    {
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        if (string.IsNullOrWhiteSpace(configuration))
        {
            return;
        }

        _options = ConfigurationOptions.Parse(configuration);
        // Never fail startup on a Redis outage: the edge must come up and apply each policy's outage mode.
        _options.AbortOnConnectFail = false;
        _options.ConnectTimeout = _options.ConnectTimeout is 5000 ? 2000 : _options.ConnectTimeout;
        _options.ClientName ??= "edge";
        _options.BacklogPolicy = BacklogPolicy.FailFast;
        // Notice a dropped connection and try to reconnect every 250 ms instead of the client's 1 s heartbeat and
        // backing-off retries, so shared limiting resumes within about a second of Redis coming back.
        _options.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
        _options.ReconnectRetryPolicy ??= new LinearRetry(250);
        _connection = new Lazy<Task<IConnectionMultiplexer>>(
            () =>
            {
                // The client's reader and writer on threads of their own (one each per connection), not the thread
                // pool: on an edge offered more than it turns around, the pool's queue is seconds long, and an answer
                // that waits in it to be read looks exactly like a silent server (rate-limit decisions fell back as
                // no_answer or overloaded while Redis answered in microseconds). Process-wide, read at connect.
                ConnectionMultiplexer.SetFeatureFlag("DedicatedThreads", true);
                return ConnectionMultiplexer.ConnectAsync(_options).ContinueWith(static t => (IConnectionMultiplexer)t.Result, TaskScheduler.Default);
            },
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public bool IsConfigured => _connection is not null;

    /// <summary>How long the first connect may take (Redis's <c>connectTimeout</c>, 2 s by default here).</summary>
    public TimeSpan ConnectTimeout => TimeSpan.FromMilliseconds(_options?.ConnectTimeout ?? 0);

    /// <summary>
    /// The multiplexer once the first connect attempt has finished; null when Redis is not configured or while that
    /// attempt is still running (reading it starts the attempt, so callers outside the host never block on it).
    /// </summary>
    public IConnectionMultiplexer? Multiplexer => _connection?.Value is { IsCompletedSuccessfully: true } task ? task.Result : null;

    /// <summary>Makes (or joins) the first connect; null when Redis is not configured.</summary>
    public async Task<IConnectionMultiplexer?> ConnectAsync() =>
        _connection is null ? null : await _connection.Value.ConfigureAwait(false);

    /// <summary>
    /// Why the client has no connection, as the client classifies it (<c>AuthenticationFailure</c>, <c>UnableToConnect</c>,
    /// <c>SocketFailure</c>, …), or null when connected or not configured. One PING, refused at once while disconnected
    /// (fail-fast); never the client's message, which names the command and the server's reply. For the ready check and
    /// start-up logs, not for requests: a wrong or missing password read "not connected" there, like a network outage.
    /// </summary>
    public async Task<string?> DescribeFailureAsync()
    {
        if (Multiplexer is not { IsConnected: false } multiplexer)
        {
            return null;
        }

        try
        {
            await multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            return null;
        }
        catch (RedisConnectionException ex)
        {
            return Classify(ex);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return ex.GetType().Name;
        }
    }

    /// <summary>
    /// The nodes' own failure types: one server's is the inner exception; with several endpoints (a cluster) the client
    /// wraps each node's in an <see cref="AggregateException"/> and itself says only
    /// <c>UnableToResolvePhysicalConnection</c>, which hid a refused password behind what reads as a network fault.
    /// </summary>
    private static string Classify(RedisConnectionException ex)
    {
        var nodes = ex.InnerException switch
        {
            RedisConnectionException single => [single.FailureType],
            AggregateException aggregate => aggregate.InnerExceptions.OfType<RedisConnectionException>().Select(e => e.FailureType).Distinct().Order().ToArray(),
            _ => Array.Empty<ConnectionFailureType>(),
        };
        return nodes.Length == 0 ? ex.FailureType.ToString() : string.Join(", ", nodes);
    }

    /// <summary>
    /// A command failed or timed out: on a Redis Cluster, asks it for its slot map again, in the background, at most once
    /// per <see cref="SlotMapRefreshInterval"/> (each later failure asks again). A master that went silent with its
    /// connection still open (frozen, or cut off by a network that drops its packets) is replaced by its replica after
    /// <c>cluster-node-timeout</c>, but no MOVED comes back from a silent node to tell the client: it kept routing the
    /// slots there until it declared the socket dead, about 20 s later with its 5 s command timeout, and rate limits,
    /// bans and approvals of those slots failed meanwhile although the cluster was healthy again.
    /// </summary>
    public void RefreshClusterSlotMap() => RefreshTopology(demoted: false);

    /// <summary>
    /// A server answered a write with <c>READONLY</c>: it was a primary and is a replica now (a failover, a manual
    /// <c>REPLICAOF</c>, a managed service swapping roles). Asks the client to check every configured server's role
    /// again, in the background and at most once per <see cref="SlotMapRefreshInterval"/> like a slot-map refresh
    /// (shared with it). Without it the client kept sending writes to the demoted server until its own role check, every
    /// <c>ConfigCheckSeconds</c> (60 s): a minute of outage mode for rate limits while the promoted primary was healthy.
    /// </summary>
    public void RefreshAfterReadOnly() => RefreshTopology(demoted: true);

    /// <summary>
    /// A command failed with <paramref name="error"/>: refreshes what the failure says may be stale, the servers' roles
    /// after <c>READONLY</c> (<see cref="RefreshAfterReadOnly"/>), else the cluster slot map
    /// (<see cref="RefreshClusterSlotMap"/>). Every Redis user of the edge calls it: the role check on READONLY was only
    /// the rate limiter's, so after a primary/replica swap approvals, webhook replay checks and ban counts failed for
    /// the client's own role check interval (60 s) while the promoted primary was healthy.
    /// </summary>
    public void RefreshAfterFailure(Exception? error)
    {
        if (IsReadOnly(error))
        {
            RefreshAfterReadOnly();
        }
        else
        {
            RefreshClusterSlotMap();
        }
    }

    /// <summary>
    /// The server refused a write as a replica (it was demoted after the client chose it as the primary): <c>READONLY</c>,
    /// or inside a transaction <c>EXECABORT</c>, which is all the client reports of a write refused while queued (the
    /// edge's own transactions hold no command a server refuses otherwise, except when out of memory, where a role
    /// check costs nothing more than the throttled refresh).
    /// </summary>
    public static bool IsReadOnly(Exception? error) =>
        error is RedisServerException server
        && (server.Message.StartsWith("READONLY", StringComparison.Ordinal) || server.Message.StartsWith("EXECABORT", StringComparison.Ordinal));

    private void RefreshTopology(bool demoted)
    {
        if (Multiplexer is not { } multiplexer)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        var wait = SlotMapRefreshInterval - Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSlotMapRefresh), now);
        if (wait > TimeSpan.Zero || Interlocked.CompareExchange(ref _refreshingSlotMap, 1, 0) != 0)
        {
            // Not dropped but due later: a refresh asked for after a followed MOVED has no later MOVED to ask again (the
            // client routes the slot right from then on), and one asked for while a refresh runs may come after the
            // map that refresh reads. Dropped, the slot map stayed stale until some command failed.
            if ((Interlocked.Or(ref _pendingRefresh, demoted ? 3 : 1) & 1) == 0)
            {
                _ = RefreshLaterAsync(wait > TimeSpan.Zero ? wait : SlotMapRefreshInterval);
            }

            return;
        }

        Volatile.Write(ref _lastSlotMapRefresh, now);
        _ = Task.Run(async () =>
        {
            try
            {
                if (demoted || multiplexer.GetServers().Any(server => server.ServerType == ServerType.Cluster))
                {
                    await multiplexer.ConfigureAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                Log.SlotMapRefreshFailed(_logger, ex.GetType().Name);
            }
            finally
            {
                Volatile.Write(ref _refreshingSlotMap, 0);
            }
        });
    }

    private async Task RefreshLaterAsync(TimeSpan wait)
    {
        await Task.Delay(wait).ConfigureAwait(false);
        var pending = Interlocked.Exchange(ref _pendingRefresh, 0);
        RefreshTopology(demoted: (pending & 2) != 0);
    }

    public void Dispose()
    {
        if (_connection is { IsValueCreated: true, Value.IsCompletedSuccessfully: true })
        {
            _connection.Value.Result.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1800, Level = LogLevel.Warning, Message = "Refreshing the Redis topology (the cluster slot map, or the servers' roles after READONLY) after a failed command did not complete ({ErrorType}); the next failure asks again")]
        public static partial void SlotMapRefreshFailed(ILogger logger, string errorType);
    }
}
