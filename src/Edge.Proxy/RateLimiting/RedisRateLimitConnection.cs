using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The Redis side shared by every policy: the multiplexer (connected by <see cref="RateLimitRedisWarmup"/> before the
/// proxy listener starts), the circuit breakers (one for a single server; on a Redis Cluster one per node, so a failing
/// node sends only the keys of its own hash slots to the outage mode: <see cref="BreakerFor"/>), and the wait for an answer that tells a blackholed server from a busy
/// edge (<see cref="AwaitAnswerAsync"/>).
/// </summary>
internal sealed partial class RedisRateLimitConnection
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromMilliseconds(500);
    public const int FailureThreshold = 3;
    public static readonly TimeSpan MinFailureSpan = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long a node must stay silent on a call for the call to count as a failure of the node (the default
    /// <c>DecisionDeadline</c>). A policy may give up sooner; its breaker verdict waits until then.
    /// </summary>
    public static readonly TimeSpan NodeSilence = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest a decision waits while Redis keeps answering other commands (the edge or Redis is busy, not down):
    /// Kong's Redis timeout. Past it the decision falls back with reason <c>overloaded</c>.
    /// </summary>
    public static readonly TimeSpan BusyCeiling = TimeSpan.FromSeconds(2);

    private const int MaxLateWakeUps = 4;


    private const int MaxReshardAttempts = 3;

    private static readonly TimeSpan ReshardRetryPause = TimeSpan.FromMilliseconds(2);

    private static readonly RateLimitPolicy WarmUpPolicy =
        RateLimitPolicy.TryCreate("warm-up", new RateLimitPolicyOptions { Limit = 1 }, new Edge.Configuration.ConfigErrorList())!;

    private readonly EdgeRedis _redis;
    private readonly ILogger _logger;
    private readonly RateLimitMetrics _metrics;

    public RedisRateLimitConnection(EdgeRedis redis, RateLimitMetrics metrics, TimeProvider time, ILogger<RedisRateLimitConnection> logger)
    {
        _redis = redis;
        _logger = logger;
        _metrics = metrics;
        Clock = new RedisClientClock(time, logger);
    }

    public bool IsConfigured => _redis.IsConfigured;

    /// <summary>The breaker of a single server, and of a cluster key whose node is not known (no slot map yet).</summary>
    public NodeBreaker Breaker { get; } = new(SingleNode, new RedisCircuitBreaker(FailureThreshold, BreakDuration, MinFailureSpan));

    /// <summary>The <c>node</c> tag and log value of the single-server breaker.</summary>
    public const string SingleNode = "redis";

    // One per cluster node ever seen in the slot map: bounded by the cluster's size, never by the keys.
    private readonly ConcurrentDictionary<EndPoint, NodeBreaker> _nodeBreakers = new();
    private IServer? _slotMapSource;
    private volatile bool _standalone;
    private int _watchingRestores;

    /// <summary>
    /// The breaker of the node that owns <paramref name="partition"/>'s hash slot on a Redis Cluster, per the client's
    /// last known slot map (<c>CLUSTER NODES</c>; it keeps naming a node that went down until the cluster moves its
    /// slots); <see cref="Breaker"/> for a single server or while the slot map is unknown. Resolved locally, no I/O.
    /// </summary>
    public NodeBreaker BreakerFor(RateLimitPolicy policy, string partition)
    {
        if (_redis.Multiplexer is not { } multiplexer || SlotMap(multiplexer) is not { } slotMap)
        {
            return Breaker;
        }

        var slot = multiplexer.HashSlot(RedisRateLimitScript.KeyOf(policy, partition));
        if (slotMap.GetBySlot(slot)?.EndPoint is not { } endpoint)
        {
            return Breaker;
        }

        return _nodeBreakers.TryGetValue(endpoint, out var breaker)
            ? breaker
            : _nodeBreakers.GetOrAdd(endpoint, static e => new NodeBreaker(Format(e), new RedisCircuitBreaker(FailureThreshold, BreakDuration, MinFailureSpan)));
    }

    private ClusterConfiguration? SlotMap(IConnectionMultiplexer multiplexer)
    {
        if (_slotMapSource is { IsConnected: true, ClusterConfiguration: { } cached } source && !IsFailing(source))
        {
            return cached;
        }

        // GetServers builds a new array of new server objects: asked on every decision, a single server's answer is
        // kept once a connected server has told its type (the multiplexer's endpoints never change kind).
        if (_standalone)
        {
            return null;
        }

        // A source whose node is failing is replaced by a healthy one: a frozen master still counts as connected and
        // keeps the map from before the failover that replaced it. A node that did not answer the client's last
        // reconfiguration no longer reports itself as a cluster node; before, meeting it first in the list made every
        // key of the cluster use the single-server breaker for good.
        IServer? failing = null;
        foreach (var server in multiplexer.GetServers())
        {
            if (server is not { IsConnected: true, ServerType: ServerType.Cluster, ClusterConfiguration: not null })
            {
                continue;
            }

            if (IsFailing(server))
            {
                failing ??= server;
                continue;
            }

            _slotMapSource = server;
            return server.ClusterConfiguration;
        }

        if (failing is not null)
        {
            _slotMapSource = failing;
            return failing.ClusterConfiguration;
        }

        if (_slotMapSource is null && multiplexer.GetServers().Any(server => server is { IsConnected: true, ServerType: not ServerType.Cluster }))
        {
            _standalone = true;
            return null;
        }

        // Every node disconnected: the last source still holds the last known map.
        return _slotMapSource?.ClusterConfiguration;
    }

    private bool IsFailing(IServer server) => _nodeBreakers.TryGetValue(server.EndPoint, out var node) && node.Breaker.IsOpen;

    private static string Format(EndPoint endpoint) => endpoint switch
    {
        IPEndPoint ip => $"{ip.Address}:{ip.Port}",
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString() ?? "unknown",
    };

    /// <summary>Client time for scripts, used only once the server refused <c>TIME</c> in a script.</summary>
    public RedisClientClock Clock { get; }

    /// <summary>The database when connected; null before the first connect finished or while disconnected.</summary>
    public IDatabase? Database => _redis.Multiplexer is { IsConnected: true } multiplexer ? multiplexer.GetDatabase() : null;

    /// <summary>Why the client is not connected (<see cref="EdgeRedis.DescribeFailureAsync"/>), for the start-up log.</summary>
    public Task<string?> DescribeFailureAsync() => _redis.DescribeFailureAsync();

    /// <summary>
    /// Connects and loads the script into every primary's cache, so no decision pays for the edge's own warm-up.
    /// Returns false when Redis could not be reached (the outage modes apply until it can).
    /// </summary>
    public async Task<bool> WarmUpAsync(CancellationToken cancellationToken)
    {
        var multiplexer = await _redis.ConnectAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (multiplexer is not null && Interlocked.Exchange(ref _watchingRestores, 1) == 0)
        {
            multiplexer.ConnectionRestored += (_, e) => OnConnectionRestored(e.EndPoint);
            // The client follows a MOVED on its own and updates only its routing, not the slot map of CLUSTER NODES that
            // BreakerFor reads: after a resharding every key of a moved slot kept the old master's breaker (the old
            // master's outage sent those keys, served by a healthy node, to the outage mode) until a call failed.
            multiplexer.HashSlotMoved += (_, _) => _redis.RefreshClusterSlotMap();
        }

        if (multiplexer is not { IsConnected: true })
        {
            return false;
        }

        var primaries = multiplexer.GetServers().Where(server => server.IsConnected && !server.IsReplica).ToArray();
        await Task.WhenAll(primaries.Select(RedisRateLimitScript.LoadAsync)).WaitAsync(cancellationToken).ConfigureAwait(false);

        // One call through the decision path that asks for nothing (writes nothing): the first real decision must not
        // pay for compiling this path, or it could miss its deadline on the edge's own start-up.
        await EvaluateAsync(Breaker, multiplexer.GetDatabase(), WarmUpPolicy, [RedisRateLimitScript.KeyOf(WarmUpPolicy, "~warm-up")], [new BucketRequest(0, 0)], values: null).WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// One script call for one or more requests on one key (<paramref name="keys"/>: its one key), answered with the
    /// script's raw result (<see cref="RedisRateLimitScript.Parse"/>). <paramref name="values"/>, when given, are the
    /// arguments for server time (used while the server's own <c>TIME</c> serves). In one async method, so a call
    /// costs one state machine:
    /// <list type="bullet">
    /// <item>NOSCRIPT (a restarted or flushed server): sent once more with the source, which caches it again.</item>
    /// <item>The first refusal of <c>TIME</c> switches this connection to offset-corrected client time and retries
    /// once with it; from then on every call passes client time.</item>
    /// <item>A resharding is not an outage. The client follows one MOVED or ASK per command; a call that meets a second
    /// redirection while a slot migrates (a stale slot map, then ASK from the migrating source), TRYAGAIN or a
    /// CLUSTERDOWN during the move surfaced as an error, and a Closed policy answered 503. Such a call is sent again
    /// (the client's slot map has been updated by then), a few times at most; the decision deadline still bounds the
    /// whole call.</item>
    /// </list>
    /// </summary>
    public async Task<RedisResult> EvaluateAsync(
        NodeBreaker node, IDatabaseAsync database, RateLimitPolicy policy, RedisKey[] keys, IReadOnlyList<BucketRequest> requests, RedisValue[]? values,
        RedisCommandWatch? watch = null, int attempt = 1, bool withSource = false)
    {
        if (attempt > 1)
        {
            await Task.Delay(ReshardRetryPause).ConfigureAwait(false);
        }

        var clientTime = Clock.IsEnabled ? await Clock.NowAsync(database).ConfigureAwait(false) : null;
        values = clientTime is null && values is not null ? values : RedisRateLimitScript.Values(policy, requests, clientTime);
        while (true)
        {
            try
            {
                var command = RedisRateLimitScript.EvaluateAsync(database, keys, values, withSource);
                watch?.Sent(command);
                var result = await command.ConfigureAwait(false);
                node.Answered();
                return result;
            }
            catch (RedisServerException ex) when (!withSource && RedisRateLimitScript.IsNoScript(ex))
            {
                withSource = true;
            }
            catch (RedisException ex) when (attempt < MaxReshardAttempts && IsReshardRedirection(ex.Message))
            {
                attempt++;
                await Task.Delay(ReshardRetryPause).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (clientTime is null && RedisClientClock.IsTimeRefusal(ex.Message))
            {
                node.Answered();
                Clock.Enable();
                clientTime = await Clock.NowAsync(database).ConfigureAwait(false);
                values = RedisRateLimitScript.Values(policy, requests, clientTime);
                (attempt, withSource) = (1, false);
            }
            catch (RedisServerException)
            {
                node.Answered();
                throw;
            }
        }
    }

    /// <summary>
    /// The common call as the client's own task, with no wrapper of its own (what <see cref="EvaluateAsync"/> would
    /// send first: EVALSHA with server-time arguments); null when the server's TIME is not used or the arguments are
    /// not prepared. Its caller marks the node answered and hands a failure to <see cref="RetryDirect"/>.
    /// </summary>
    public Task<RedisResult>? TrySendDirect(IDatabaseAsync database, RedisKey[] keys, RedisValue[]? values, RedisCommandWatch watch)
    {
        if (values is null || Clock.IsEnabled)
        {
            return null;
        }

        var command = RedisRateLimitScript.EvaluateAsync(database, keys, values, withSource: false);
        watch.Sent(command);
        return command;
    }

    /// <summary>
    /// What <see cref="EvaluateAsync"/> does next when a call of <see cref="TrySendDirect"/> failed with
    /// <paramref name="failure"/>: the same retry (EVAL after NOSCRIPT, a second attempt after a reshard redirection,
    /// client time after a refusal of TIME), as a new call; null when the failure is final.
    /// </summary>
    public Task<RedisResult>? RetryDirect(Exception failure, NodeBreaker node, IDatabaseAsync database, RateLimitPolicy policy, RedisKey[] keys, IReadOnlyList<BucketRequest> requests, RedisCommandWatch watch)
    {
        switch (failure)
        {
            case RedisServerException server when RedisRateLimitScript.IsNoScript(server):
                return EvaluateAsync(node, database, policy, keys, requests, values: null, watch, withSource: true);
            case RedisException redis when IsReshardRedirection(redis.Message):
                return EvaluateAsync(node, database, policy, keys, requests, values: null, watch, attempt: 2);
            case RedisServerException server when RedisClientClock.IsTimeRefusal(server.Message):
                node.Answered();
                Clock.Enable();
                return EvaluateAsync(node, database, policy, keys, requests, values: null, watch);
            default:
                return null;
        }
    }

    /// <summary>
    /// Errors a cluster returns while a slot moves between masters: transient, not a failure of the node. A second
    /// redirection is reported by the client itself: MOVED as "Key has MOVED ... NoRedirect", ASK as a connection error
    /// "Endpoint ... serving hashslot ... is not reachable" (it declines the resend, the node is up).
    /// </summary>
    internal static bool IsReshardRedirection(string message) =>
        message.StartsWith("Key has MOVED", StringComparison.Ordinal)
        || (message.StartsWith("Endpoint ", StringComparison.Ordinal) && message.Contains(" serving hashslot ", StringComparison.Ordinal))
        || message.StartsWith("MOVED ", StringComparison.Ordinal)
        || message.StartsWith("ASK ", StringComparison.Ordinal)
        || message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal);

    /// <summary>
    /// Waits for a call sent at <paramref name="sentAt"/> (a Stopwatch timestamp taken when the command was handed to
    /// the connection, after any queueing of the request itself). The call is given up
    /// (<see cref="RateLimitFallbackReason.NoAnswer"/>) only when Redis showed no progress at all for a whole
    /// <paramref name="deadline"/>: a blackholed server. Progress is any answer to any rate-limit call on the node, or a
    /// wake-up that itself came late (CPU queueing on a busy edge: "cannot tell, keep waiting"). Once the client has
    /// read this call's own answer (<paramref name="watch"/>), only this edge's thread pool is left: the call is never
    /// given up then, however long its continuation waits. While there is progress the wait goes on, up to
    /// <see cref="BusyCeiling"/>. On a cluster, progress counts on the call's own node only: answers from healthy
    /// nodes say nothing about a frozen one.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RateLimitFallbackReason> AwaitAnswerAsync(NodeBreaker node, Task call, RedisCommandWatch watch, long sentAt, TimeSpan deadline)
    {
        var deadlineTicks = (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        var step = Math.Max(1, deadlineTicks / 2);
        var ceiling = sentAt + (long)(Math.Max(BusyCeiling.TotalSeconds, deadline.TotalSeconds) * Stopwatch.Frequency);
        var silentSince = sentAt;
        var lastWake = sentAt;
        var lateWakeUps = 0;
        var wakeAt = sentAt + step;
        while (true)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), wakeAt);
            await call.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.FromTicks(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (call.IsCompleted)
            {
                return RateLimitFallbackReason.None;
            }

            var now = Stopwatch.GetTimestamp();
            if (watch.Answered)
            {
                // Read but not yet run: a retry (NOSCRIPT, a redirection) puts a new command on the wire, and its
                // silence counts from here.
                silentSince = now;
                ceiling = Math.Max(ceiling, now + (long)(BusyCeiling.TotalSeconds * Stopwatch.Frequency));
            }
            else if (now >= ceiling)
            {
                return RateLimitFallbackReason.Overloaded;
            }
            else
            {
                // A wake-up that comes late means this process was starved (CPU queueing, a GC pause that also froze
                // the client's reader): what it saw is not evidence of silence. A few extra steps absorb that, but a
                // blackhole on a starved host must still end well before the ceiling.
                var wokeLate = now - wakeAt > step / 4 && ++lateWakeUps <= MaxLateWakeUps;
                if (node.LastAnswer > lastWake || wokeLate)
                {
                    silentSince = now;
                }
                else if (now - silentSince >= deadlineTicks)
                {
                    return RateLimitFallbackReason.NoAnswer;
                }
            }

            lastWake = now;
            wakeAt = Math.Min(now + step, ceiling);
        }
    }

    /// <summary>A reconnect: the breakers of that node (and the single-server one) probe at once.</summary>
    private void OnConnectionRestored(EndPoint? endpoint)
    {
        Breaker.Breaker.ProbeNow();
        if (endpoint is not null && _nodeBreakers.TryGetValue(endpoint, out var node))
        {
            node.Breaker.ProbeNow();
        }
    }

    public void OnSuccess(NodeBreaker node, bool isProbe)
    {
        var wasOpen = node.Breaker.IsOpen;
        node.Breaker.OnSuccess(isProbe);
        if (wasOpen && !node.Breaker.IsOpen)
        {
            _metrics.Breaker("closed", node.Node);
            Log.BreakerClosed(_logger, node.Node);
        }
    }

    /// <summary>
    /// A script call failed and its decisions go to the outage mode: logged with the reason and what failed (the
    /// exception's type and a Redis error code, never its message: messages can name the key, and keys hold tenants,
    /// users and addresses), then counted by the node's breaker. Decisions short-circuited by an open breaker are not
    /// logged one by one (event 1300 and the fallback counter cover them).
    /// </summary>
    public void OnFailure(NodeBreaker node, bool isProbe, RateLimitPolicy policy, RateLimitFallbackReason reason, Exception? error)
    {
        if (_logger.IsEnabled(LogLevel.Warning))
        {
            Log.CallFailed(_logger, policy.Name, node.Node, RateLimitMetrics.ReasonTag(reason), error?.GetType().Name ?? "none", ErrorKind(error), policy.OnRedisUnavailable);
        }

        CountFailure(node, isProbe, reason, error);
    }

    /// <summary>
    /// A call was given up at its policy's deadline (<paramref name="reason"/> <c>no_answer</c>, or <c>overloaded</c> at
    /// the ceiling): its decisions get the outage mode now, and it is logged like any failed call. The breaker, shared by
    /// every policy of the node, judges the node rather than the policy: a silence shorter than
    /// <see cref="NodeSilence"/> counts as a failure only if the call is still unanswered once it has lasted that long,
    /// and as a success if Redis answers it meanwhile. A policy with a deadline of a few milliseconds gave up on a
    /// healthy node's short stalls, opened the breaker and kept its probes failing, so every other policy of the node
    /// was answered by its outage mode (503 <c>breaker_open</c> in <c>Closed</c> mode) although its own deadline was
    /// never missed.
    /// </summary>
    public void OnGivenUp(NodeBreaker node, bool isProbe, RateLimitPolicy policy, RateLimitFallbackReason reason, Task call, long sentAt)
    {
        var judgeIn = NodeSilence - Stopwatch.GetElapsedTime(sentAt);
        if (judgeIn <= TimeSpan.Zero)
        {
            OnFailure(node, isProbe, policy, reason, error: null);
            return;
        }

        if (_logger.IsEnabled(LogLevel.Warning))
        {
            Log.CallFailed(_logger, policy.Name, node.Node, RateLimitMetrics.ReasonTag(reason), "none", ErrorKind(null), policy.OnRedisUnavailable);
        }

        _ = JudgeGivenUpAsync(node, isProbe, reason, call, judgeIn);
    }

    private async Task JudgeGivenUpAsync(NodeBreaker node, bool isProbe, RateLimitFallbackReason reason, Task call, TimeSpan judgeIn)
    {
        await call.WaitAsync(judgeIn).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Answered, even with a server error: the node is alive. A connection failure or no answer at all is an outage.
        if (call.IsCompleted && call.Exception?.InnerException is not (RedisConnectionException or ObjectDisposedException or TimeoutException))
        {
            node.Answered();
            OnSuccess(node, isProbe);
        }
        else
        {
            CountFailure(node, isProbe, reason, call.Exception?.InnerException);
        }
    }

    private void CountFailure(NodeBreaker node, bool isProbe, RateLimitFallbackReason reason, Exception? error)
    {
        if (node.Breaker.OnFailure(isProbe))
        {
            _metrics.Breaker("open", node.Node);
            Log.BreakerOpened(_logger, node.Node, RateLimitMetrics.ReasonTag(reason), node.Breaker.BreakDuration.TotalMilliseconds);
        }

        if (EdgeRedis.IsReadOnly(error))
        {
            _redis.RefreshAfterReadOnly();
        }
        else
        {
            RefreshSlotMap();
        }
    }

    /// <summary>
    /// A cluster key's call failed: the client's slot map may name a master the cluster has replaced
    /// (<see cref="EdgeRedis.RefreshClusterSlotMap"/>).
    /// </summary>
    private void RefreshSlotMap()
    {
        // Not only after a master's own breaker failed: while a failed master's slots are unowned (marked failed, no
        // replica promoted yet) the slot map names no node for them and their keys use the single-server breaker;
        // refreshing only for node breakers stopped asking right then, before the promotion the next refresh would see.
        if (!_standalone && _slotMapSource is not null)
        {
            _redis.RefreshClusterSlotMap();
        }
    }

    /// <summary>
    /// What kind of failure an exception is, in words that cannot carry a key: a Redis error code (the first word of
    /// a server error, e.g. <c>MOVED</c>, <c>TRYAGAIN</c>, <c>NOSCRIPT</c>), the client's connection failure type, or
    /// a fixed name for the client's own reshard errors. Everything else is <c>other</c>.
    /// </summary>
    internal static string ErrorKind(Exception? error) => error switch
    {
        null => "none",
        RedisConnectionException connection when IsReshardRedirection(connection.Message) => "second-redirection",
        RedisConnectionException connection => connection.FailureType.ToString(),
        RedisException redis when redis.Message.StartsWith("Key has MOVED", StringComparison.Ordinal) => "second-redirection",
        RedisServerException server => ServerErrorCode(server.Message),
        TimeoutException => "timeout",
        _ => "other",
    };

    private static string ServerErrorCode(string message)
    {
        var end = message.IndexOf(' ', StringComparison.Ordinal);
        var code = end < 0 ? message : message[..end];
        return code.Length is > 0 and <= 20 && code.All(c => c is >= 'A' and <= 'Z' or '_') ? code : "other";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1307, Level = LogLevel.Warning, Message = "Rate limiting: Redis call of policy {Policy} to node {Node} failed ({Reason}; {ErrorType} {ErrorKind}); the outage mode {Mode} answers its decisions")]
        public static partial void CallFailed(ILogger logger, string policy, string node, string reason, string errorType, string errorKind, RedisOutageMode mode);

        [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Rate limiting: Redis node {Node} unavailable ({Reason}); outage modes apply to its keys, next probe in {BreakMs} ms")]
        public static partial void BreakerOpened(ILogger logger, string node, string reason, double breakMs);

        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Rate limiting: Redis node {Node} answered again; shared limiting resumed for its keys")]
        public static partial void BreakerClosed(ILogger logger, string node);
    }
}

/// <summary>
/// A circuit breaker and the Redis node it guards (<c>host:port</c> on a cluster, <c>redis</c> for a single server),
/// with the time of the node's last answer, the progress signal of a blackhole wait.
/// </summary>
internal sealed class NodeBreaker(string node, RedisCircuitBreaker breaker)
{
    private long _lastAnswer;

    public string Node { get; } = node;

    public RedisCircuitBreaker Breaker { get; } = breaker;

    public long LastAnswer => Volatile.Read(ref _lastAnswer);

    public void Answered() => Volatile.Write(ref _lastAnswer, Stopwatch.GetTimestamp());
}
