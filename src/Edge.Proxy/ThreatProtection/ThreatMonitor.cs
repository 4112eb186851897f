using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Edge.Configuration.RateLimiting;
using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Counts the denials that ban rules name, bans a key that crosses its rule's threshold, and refuses every request with
/// a banned key. Every check is a lookup in this instance's ban table, never a Redis call: with Redis, the table is a
/// replica that <see cref="BanSynchronizer"/> refreshes every <see cref="SyncInterval"/> (and that learns a ban at once
/// when this instance's count starts it or meets it); without Redis, the table is the store.
/// </summary>
internal sealed partial class ThreatMonitor(
    EdgeConfigState state,
    EdgeRedis redis,
    ThreatMetrics metrics,
    IThreatEventSink audit,
    TimeProvider time,
    ILogger<ThreatMonitor> logger) : IEdgeThreatGate, IConfigEventSink
{
    public const string StepName = IEdgeThreatGate.StepName;
    public const string BlockedCode = "client_blocked";

    /// <summary>How often an instance reloads the shared bans: the longest a ban (or unban) elsewhere takes to apply here.</summary>
    public static readonly TimeSpan SyncInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a count may wait for Redis before it is kept in this instance instead.</summary>
    private static readonly TimeSpan RedisDeadline = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a ban, lift or list from the management API waits for Redis: StackExchange.Redis's own async timeout.
    /// An operator waits for one answer, and one given too early is wrong: the change may still land after a timeout.
    /// </summary>
    private static readonly TimeSpan ManagementDeadline = TimeSpan.FromSeconds(5);

    private const int MaxTrackedCounts = 100_000;

    /// <summary>
    /// At most one 2303 and one 2305 line per rule in this interval: both come once per refusal a client sends (while
    /// Redis stalls, or once a rule's table is full of made-up keys), so a line each let any client flood the log.
    /// </summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly ConditionalWeakTable<ThreatProtectionOptions, RuleSet> _compiled = new();
    // Read by every request without a lock; changed one key at a time under _write. It was a copy-on-write dictionary:
    // every new ban copied the whole table and parsed every key again, so a storm of bans from made-up keys cost O(n)
    // per ban under the lock (about 2 ms each at 20,000 bans) and a large-object allocation each.
    private readonly Lock _write = new();
    private readonly ConcurrentDictionary<string, KnownBan> _bans = new(StringComparer.Ordinal);
    // Written under _write: ConcurrentDictionary.IsEmpty takes every lock of the table when it is empty, the common case.
    private volatile bool _anyBans;
    // The keys in _bans, under _write: ConcurrentDictionary.Count takes every lock of the table.
    private int _count;
    // The bans the cap may evict (not manual ones), lowest rank first, then soonest end; under _write. A replaced or
    // removed ban's entry stays until it comes first (then skipped: it is no longer the table's value for its key) or
    // the queue is rebuilt, so keeping the order costs one O(log n) insert per new ban and nothing per request.
    private PriorityQueue<KnownBan, (BanRank Rank, DateTimeOffset Until)> _evictable = new();
    private readonly LogWindow _fullLog = new(LogInterval);
    // The keys of _bans that are networks (manual bans such as 203.0.113.0/24), copy-on-write; empty almost always.
    private volatile NetworkBan[] _networks = [];
    // One bounded table per rule: a rule whose key holds a part the client chooses ({tenant}, {header:…}) can be filled
    // with made-up keys, and a table shared by all rules then stopped every other rule from counting a new offender.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, LocalWindow>> _counts = new(StringComparer.Ordinal);

    // Keys the pseudonym ban log lines carry instead of the ban key (an address or a principal), held in memory only.
    private readonly byte[] _keyIdKey = RandomNumberGenerator.GetBytes(32);

    private readonly ConcurrentDictionary<string, LogWindow> _countFailedLog = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, LogWindow> _countsFullLog = new(StringComparer.Ordinal);

    // The bans' epoch in Redis at the last reload (RedisBanStore.EpochKey); null before the first. Written under _write.
    private string? _epoch;

    // The version (RedisBanStore.VersionKey) of the last full load and when it ran; under _write. A reload that finds
    // the same epoch and version skips the bans, except once per FullReloadInterval (a ban changed by an older edge,
    // or by hand, does not count a version).
    private string? _loadedVersion;
    private long _lastFullLoad;

    /// <summary>The longest a reload relies on an unchanged version: the bans are fetched whole at least this often.</summary>
    public static readonly TimeSpan FullReloadInterval = TimeSpan.FromSeconds(10);

    /// <summary>How many rules have counts kept.</summary>
    internal int CountedRules => _counts.Count;

    /// <summary>
    /// Once YARP serves <paramref name="current"/>: the counts of rules it no longer has are dropped (a renamed rule counts
    /// afresh), else every rule ever removed kept up to 100,000 counted keys for the life of the process. Its bans stay.
    /// Each rule's ban counters start at 0 (<see cref="ThreatMetrics.Declare"/>), so the first scrape after a rule is
    /// added already has the series the alerts' increase() needs; a removed rule's series keep their last value.
    /// </summary>
    public void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current)
    {
        var names = new HashSet<string>(current.ThreatProtection.Rules?.Keys ?? [], StringComparer.Ordinal);
        ConfiguredNames.KeepOnly(_counts, names);
        ConfiguredNames.KeepOnly(_countFailedLog, names);
        ConfiguredNames.KeepOnly(_countsFullLog, names);
        metrics.Declare(names);
    }

    public void ConfigRefused(IReadOnlyList<ConfigError> errors)
    {
    }

    private RuleSet Rules => _compiled.GetValue(state.Serving.Edge.ThreatProtection, RuleSet.Compile);

    /// <summary>
    /// Before any step: the client address itself (so a manual ban of an address applies with or without a rule keyed
    /// on it) and every rule whose key needs no step's result.
    /// </summary>
    public EdgeDenial? CheckBeforeSteps(HttpContext http, EdgeRequestFeature request)
    {
        // Whether or not anything is banned yet: a key header sent twice is neither counted nor checked by one copy.
        if (Rules.HeaderNames is { Length: > 0 } keyHeaders && KeyHeaders.Repeated(http, keyHeaders) is { } repeated)
        {
            return KeyHeaders.Denial(repeated);
        }

        if (!_anyBans)
        {
            return null;
        }

        var bans = _bans;
        var now = time.GetUtcNow();
        if (ThreatKeyRenderer.ClientIpKey(request) is { } ip && Find(bans, ip, now) is { } ban)
        {
            return Block(request, ban, now);
        }

        if (_networks is { Length: > 0 } networks && FindNetwork(bans, networks, request.ClientIp, now) is { } covering)
        {
            return Block(request, covering, now);
        }

        foreach (var rule in Rules.Early)
        {
            if (ThreatKeyRenderer.Render(rule.Key, http, request) is { } key && Find(bans, key, now) is { } found)
            {
                return Block(request, found, now);
            }
        }

        return null;
    }

    /// <summary>After each step that let the request through: the rules whose key needs a tenant or principal, once known.</summary>
    public EdgeDenial? CheckAfterStep(HttpContext http, EdgeRequestFeature request)
    {
        var late = Rules.Late;
        if (!_anyBans || late.Length == 0)
        {
            return null;
        }

        var bans = _bans;

        var now = time.GetUtcNow();
        for (var i = 0; i < late.Length; i++)
        {
            var bit = i < 64 ? 1UL << i : 0;
            if ((request.ThreatRulesChecked & bit) != 0)
            {
                continue;
            }

            if (ThreatKeyRenderer.Render(late[i].Key, http, request) is not { } key)
            {
                continue;
            }

            request.ThreatRulesChecked |= bit;
            if (Find(bans, key, now) is { } ban)
            {
                return Block(request, ban, now);
            }
        }

        return null;
    }

    /// <summary>Counts a denial for every rule that names its event; starts a ban at a rule's threshold.</summary>
    public ValueTask ObserveAsync(HttpContext http, string step, EdgeDenial denial)
    {
        if (string.Equals(step, StepName, StringComparison.Ordinal)
            || Rules.All.Length == 0
            || ThreatEvents.Classify(step, denial) is not { } threatEvent
            || http.GetEdgeRequest() is not { } request)
        {
            return ValueTask.CompletedTask;
        }

        return CountAsync(http, request, threatEvent);
    }

    /// <param name="subject">Whose ban it is (<see cref="BanSubjects.ForManual"/>); its records are sealed under that subject.</param>
    /// <exception cref="BanTableFullException">The table is at its cap with manual bans only: nothing was banned.</exception>
    public async Task<BanEntry> BanAsync(string key, TimeSpan duration, string reason, BanSubject? subject = null)
    {
        var now = time.GetUtcNow();
        var ban = new BanEntry(key, now + duration, Rule: null, reason) { Subject = subject };
        if (redis.IsConfigured)
        {
            var database = SharedDatabase();
            try
            {
                var (added, evicted) = await RedisBanStore.AddAsync(database, ban, Rules.MaxBans, now).WaitAsync(ManagementDeadline).ConfigureAwait(false);
                if (!added)
                {
                    Report(null, notKept: ban);
                    throw new BanTableFullException(Rules.MaxBans);
                }

                if (evicted is not null)
                {
                    ForgetEvicted(evicted);
                }
            }
            catch (TimeoutException ex)
            {
                // Sent, not answered: Redis may still apply it, and every instance would then refuse the key. Before, the
                // caller was told to retry while the ban came into force unaudited and unlogged.
                _ = ConfirmLateAsync(database, key, expected: ban.Until.ToUnixTimeMilliseconds(), () => Added(ban));
                throw new BanOutcomeUnknownException(ex);
            }
        }

        Added(ban);
        return ban;
    }

    private void Added(BanEntry ban)
    {
        // With Redis the ban is in the shared table, whether or not this replica had room for it.
        if (!Learn(ban, shared: redis.IsConfigured) && !redis.IsConfigured)
        {
            throw new BanTableFullException(Rules.MaxBans);
        }

        metrics.Banned(rule: null);
        audit.Banned(ban.Key, ban.Rule, ban.Until, ban.Reason, by: "management", ban.Subject);
        Log.BanAdded(logger, KeyId(ban.Key), ban.Until);
    }

    /// <summary>
    /// After a ban change timed out: asks Redis for the key's ban until it answers (commands on one connection run in
    /// order, so an answer comes after the change was applied or dropped), then runs <paramref name="applied"/> when the
    /// key's end is <paramref name="expected"/> (Unix ms; null: no ban). Gives up after a minute without an answer.
    /// </summary>
    private async Task ConfirmLateAsync(IDatabase database, string key, long? expected, Action applied)
    {
        var giveUp = time.GetTimestamp() + (long)(60 * time.TimestampFrequency);
        while (time.GetTimestamp() < giveUp)
        {
            double? score;
            try
            {
                score = await database.SortedSetScoreAsync(RedisBanStore.BansKey, key).WaitAsync(RedisDeadline * 4).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                await Task.Delay(RedisDeadline, time).ConfigureAwait(false);
                continue;
            }

            if ((long?)score == expected)
            {
                Log.ConfirmedLate(logger, KeyId(key));
                applied();
            }

            return;
        }
    }

    /// <summary>
    /// Lifts a ban; true only when a ban was still running at the moment it was removed. An ended ban that is still
    /// stored (Redis and the table keep it until the next reload) is removed too, but that lifts nothing: false, no audit.
    /// </summary>
    public async Task<bool> UnbanAsync(string key)
    {
        bool lifted;
        BanSubject? subject;
        if (redis.IsConfigured)
        {
            // Redis holds the shared truth: the local replica may still show a ban another instance lifted, or one that
            // ended. The script compares the ban's end with this clock in the same atomic step that removes it.
            // A ban this instance counted alone while Redis failed is in no store but this table: it is lifted here,
            // with or without Redis. Before, an operator could not unblock a client wrongly banned during an outage
            // (503), and once Redis was back the DELETE removed the ban but answered 404 without an audit record.
            if (redis.Multiplexer is not { IsConnected: true } && IsLocalOnly(key))
            {
                return LiftHere(key);
            }

            var database = SharedDatabase();
            var now = time.GetUtcNow();
            try
            {
                (lifted, subject) = await RedisBanStore.RemoveAsync(database, key, now).WaitAsync(ManagementDeadline).ConfigureAwait(false);
            }
            catch (RedisException) when (IsLocalOnly(key))
            {
                return LiftHere(key);
            }
            catch (TimeoutException ex)
            {
                // Sent, not answered: the lift may still happen. Audited then if this instance knew the ban as running.
                if (_bans.TryGetValue(key, out var known) && known.Ban.IsActive(now))
                {
                    _ = ConfirmLateAsync(database, key, expected: null, () =>
                    {
                        Forget(key);
                        Lifted(key, known.Ban.Subject);
                    });
                }

                throw new BanOutcomeUnknownException(ex);
            }

            if (Forget(key) is { Shared: false } local && !lifted && local.Ban.IsActive(now))
            {
                (lifted, subject) = (true, local.Ban.Subject);
            }
        }
        else
        {
            return LiftHere(key);
        }

        if (lifted)
        {
            Lifted(key, subject);
        }

        return lifted;
    }

    private bool LiftHere(string key)
    {
        var (lifted, subject) = ForgetRunning(key);
        if (lifted)
        {
            Lifted(key, subject);
        }

        return lifted;
    }

    private bool IsLocalOnly(string key) => _bans.TryGetValue(key, out var known) && !known.Shared;

    private void Lifted(string key, BanSubject? subject)
    {
        // The ban's own subject, so that the lift is erased with the ban; a ban stored without one (an older edge) is
        // read like a manual ban of its key.
        audit.Unbanned(key, by: "management", subject ?? BanSubjects.ForManual(key, principal: null, tenant: null));
        Log.BanLifted(logger, KeyId(key));
    }

    /// <summary>
    /// The pseudonym of a ban key that ban log lines (2300-2302) name and <c>GET /edge/bans</c> shows beside the key:
    /// <c>k-</c> and 12 hex digits of HMAC-SHA256 under a random key of this process. A ban key is an address or a
    /// principal, and erasure cannot reach a log file; an unkeyed hash of an IPv4 address is reversed by trying all 2^32.
    /// The same key gives the same id in this process only (another instance or a restart gives another).
    /// </summary>
    public string KeyId(string key)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_keyIdKey, Encoding.UTF8.GetBytes(key), mac);
        return "k-" + Convert.ToHexStringLower(mac[..6]);
    }

    /// <summary>The running bans, straight from Redis when it is configured.</summary>
    public async Task<IReadOnlyList<BanEntry>> ListAsync()
    {
        if (redis.IsConfigured)
        {
            await SyncCoreAsync(SharedDatabase(), full: true).WaitAsync(ManagementDeadline).ConfigureAwait(false);
        }

        return ListEnforced();
    }

    /// <summary>
    /// Whether a ban of <paramref name="key"/> can block anyone: an address or a network (checked for every client before
    /// any step), or a key one of the served rules renders. A manual ban blocks the requests whose rendered key equals it.
    /// </summary>
    public bool CanBlock(string key) =>
        BanSubjects.AddressOf(key) is not null
        || BanEntry.TryParseNetwork(key, out _)
        || Rules.All.Any(rule => ThreatKeyRenderer.CanRender(rule.Key, key));

    /// <summary>The served rules' key templates, for an answer that says which keys a ban can name.</summary>
    public IReadOnlyList<string> RuleKeys => [.. Rules.All.Select(rule => rule.Key.Text).Distinct(StringComparer.Ordinal)];

    /// <summary>True when bans are shared through Redis; false when each instance keeps its own.</summary>
    public bool IsShared => redis.IsConfigured;

    /// <summary>The running bans this instance enforces now, without reloading the shared ones first.</summary>
    public IReadOnlyList<BanEntry> ListEnforced()
    {
        var now = time.GetUtcNow();
        return [.. _bans.Values.Select(b => b.Ban).Where(b => b.IsActive(now)).OrderBy(b => b.Until)];
    }

    /// <summary>Applies a ban or lift another instance (or this one) published.</summary>
    public void OnPublished(string? message)
    {
        switch (RedisBanStore.ParseMessage(message))
        {
            case { Lifted: true } lifted:
                Forget(lifted.Key);
                break;
            case { } published when published.ToBan() is var ban && ban.IsActive(time.GetUtcNow()):
                Learn(ban, shared: true);
                break;
        }
    }

    /// <summary>Reloads the shared bans (and drops ended ones); <see cref="BanSynchronizer"/> calls it every <see cref="SyncInterval"/>.</summary>
    public async Task SyncAsync()
    {
        if (redis.IsConfigured && redis.Multiplexer is { IsConnected: true } multiplexer)
        {
            try
            {
                await SyncCoreAsync(multiplexer.GetDatabase()).WaitAsync(RedisDeadline * 4).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // The last replica keeps refusing what it knows until each ban's own end.
                Log.SyncFailed(logger, ex.GetType().Name);
                redis.RefreshAfterFailure(ex);
            }
        }

        Prune(time.GetUtcNow());
    }

    private async Task SyncCoreAsync(IDatabase database, bool full = false)
    {
        var loadStarted = time.GetTimestamp();
        var now = time.GetUtcNow();
        string? knownEpoch = null, knownVersion = null;
        lock (_write)
        {
            if (!full && _lastFullLoad != 0 && time.GetElapsedTime(_lastFullLoad, loadStarted) < FullReloadInterval)
            {
                (knownEpoch, knownVersion) = (_epoch, _loadedVersion);
            }
        }

        var (loaded, epoch, version) = await RedisBanStore.LoadAsync(database, now, Guid.NewGuid().ToString("N"), knownEpoch, knownVersion).ConfigureAwait(false);
        if (loaded is null)
        {
            // Nothing changed in Redis since the last full load: what this instance holds beyond it (bans published
            // since, bans counted during an outage) stays; only ended bans go.
            Prune(now);
            return;
        }

        List<(BanEntry, BanRank)>? restore = null;
        List<Eviction>? evicted = null;
        bool lost;
        lock (_write)
        {
            // Another epoch than the last load's: Redis lost the bans (restarted empty, flushed, failed over without
            // them). A shared ban missing from this load was then lost, not lifted: before, a Redis restart lifted
            // every ban on every instance within a second, without a record or a log line.
            // The new epoch is taken once the bans are written back, so a reload running meanwhile (or after a failed
            // write) still reads their absence as a loss.
            lost = _epoch is not null && !string.Equals(_epoch, epoch, StringComparison.Ordinal);
            if (!lost)
            {
                _epoch = epoch;
                _loadedVersion = version;
                _lastFullLoad = loadStarted;
            }
            var next = new Dictionary<string, KnownBan>(loaded.Count, StringComparer.Ordinal);
            foreach (var ban in loaded)
            {
                next[ban.Key] = new KnownBan(ban, Shared: true, loadStarted, Rank(ban));
            }

            foreach (var (key, known) in _bans)
            {
                // Kept: bans counted here while Redis failed, and bans learned after this load started (newer than what
                // it could see). Otherwise a shared ban missing from the load was lifted elsewhere.
                if (!next.ContainsKey(key) && known.Ban.IsActive(now) && (!known.Shared || known.Learned >= loadStarted || lost))
                {
                    next[key] = known;
                    if (lost && known.Shared)
                    {
                        (restore ??= []).Add((known.Ban, known.Rank));
                    }
                }
            }

            Replace(next, ref evicted);
        }

        Report(evicted, notKept: null);

        if (lost)
        {
            Log.BansLost(logger, restore?.Count ?? 0);
            if (restore is not null)
            {
                await RedisBanStore.RestoreAsync(database, restore, Rules.MaxBans).ConfigureAwait(false);
            }

            lock (_write)
            {
                _epoch = epoch;
            }
        }
    }

    private IDatabase SharedDatabase() =>
        redis.Multiplexer is { IsConnected: true } multiplexer ? multiplexer.GetDatabase() : throw new BanStoreUnavailableException("Redis is not connected");

    private async ValueTask CountAsync(HttpContext http, EdgeRequestFeature request, ThreatEvent threatEvent)
    {
        var eventName = threatEvent.ToString();
        BanSubject? subject = null;
        foreach (var rule in Rules.All)
        {
            if (!rule.Counts(threatEvent) || ThreatKeyRenderer.Render(rule.Key, http, request) is not { } key)
            {
                continue;
            }

            metrics.Counted(rule.Name, eventName);
            subject ??= BanSubjects.Of(http, request);
            var now = time.GetUtcNow();
            var (ban, created) = await CountSharedAsync(rule, key, eventName, now, subject).ConfigureAwait(false) ?? CountLocally(rule, key, eventName, now, subject);
            if (created && ban is not null)
            {
                Started(rule, ban, subject);
            }
        }
    }

    private void Started(ThreatRule rule, BanEntry ban, BanSubject subject)
    {
        metrics.Banned(rule.Name);
        audit.Banned(ban.Key, ban.Rule, ban.Until, ban.Reason, by: "rule", subject);
        Log.Banned(logger, KeyId(ban.Key), rule.Name, rule.Threshold, rule.Window, ban.Until);
    }

    /// <summary>The shared count, or null when Redis is not configured or did not answer (the count is then kept here).</summary>
    private async ValueTask<(BanEntry? Ban, bool Created)?> CountSharedAsync(ThreatRule rule, string key, string eventName, DateTimeOffset now, BanSubject subject)
    {
        if (!redis.IsConfigured)
        {
            return null;
        }

        if (redis.Multiplexer is not { IsConnected: true } multiplexer)
        {
            // Counted here only, as after a stall: before, this path was silent, so the same outage logged 2303 while
            // the client library still called the connection up and nothing once it had given up on it.
            CountedHereOnly(rule, "NotConnected");
            return null;
        }

        var count = RedisBanStore.CountAsync(multiplexer.GetDatabase(), rule, key, eventName, now, subject, Rules.MaxBans, Rules.RankOf(rule.Name));
        try
        {
            var (_, ban, created, evicted, notKept) = await count.WaitAsync(RedisDeadline).ConfigureAwait(false);
            if (evicted is not null)
            {
                ForgetEvicted(evicted);
            }

            if (notKept)
            {
                Report(null, notKept: new BanEntry(key, now + rule.BanFor, rule.Name, eventName));
            }

            if (ban is not null)
            {
                Learn(ban, shared: true);
            }

            return (ban, created);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            redis.RefreshAfterFailure(ex);
            if (!count.IsCompleted)
            {
                // Redis may still run the count: when it starts the ban, every instance learns it from the channel, so it
                // is reported here, where it was counted (before, such a ban was enforced everywhere and audited nowhere).
                _ = count.ContinueWith(
                    t =>
                    {
                        if (t.IsCompletedSuccessfully && t.Result is { Ban: { } late, Created: true })
                        {
                            if (t.Result.Evicted is { } evictedLate)
                            {
                                ForgetEvicted(evictedLate);
                            }

                            // Audited already only when this instance's own count banned the key meanwhile (the
                            // channel may have brought this very ban first: shared, so not that).
                            var audited = _bans.TryGetValue(late.Key, out var known) && !known.Shared && known.Ban.IsActive(time.GetUtcNow());
                            Learn(late, shared: true);
                            if (!audited)
                            {
                                Started(rule, late, subject);
                            }
                        }
                        else
                        {
                            _ = t.Exception;
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            CountedHereOnly(rule, ex.GetType().Name);
            return null;
        }
    }

    /// <summary>Warning 2303, at most once a minute per rule: the rule's events are counted in this instance only.</summary>
    private void CountedHereOnly(ThreatRule rule, string error)
    {
        if (_countFailedLog.GetOrAdd(rule.Name, static _ => new LogWindow(LogInterval)).TryTake(time, out var unlogged))
        {
            Log.CountFailed(logger, rule.Name, error, unlogged);
        }
    }

    private (BanEntry? Ban, bool Created) CountLocally(ThreatRule rule, string key, string eventName, DateTimeOffset now, BanSubject subject)
    {
        var counts = _counts.GetOrAdd(rule.Name, static _ => new ConcurrentDictionary<string, LocalWindow>(StringComparer.Ordinal));
        var nowTicks = time.GetTimestamp();
        var windowTicks = (long)(rule.Window.TotalSeconds * time.TimestampFrequency);
        if (!counts.TryGetValue(key, out var window))
        {
            if (counts.Count >= MaxTrackedCounts)
            {
                PruneCounts(counts, nowTicks, windowTicks);
                if (counts.Count >= MaxTrackedCounts)
                {
                    if (_countsFullLog.GetOrAdd(rule.Name, static _ => new LogWindow(LogInterval)).TryTake(time, out var unlogged))
                    {
                        Log.CountsFull(logger, rule.Name, MaxTrackedCounts, unlogged);
                    }

                    return (null, false);
                }
            }

            window = counts.GetOrAdd(key, _ => new LocalWindow(nowTicks));
        }

        if (window.Add(nowTicks, windowTicks) < rule.Threshold)
        {
            return (null, false);
        }

        window.Reset(nowTicks);
        var ban = new BanEntry(key, now + rule.BanFor, rule.Name, eventName) { Subject = subject };

        // Checked and added under the write lock: two refusals crossing the threshold at once both got past the check
        // before either ban was published, and the client was banned (and audited) twice.
        List<Eviction>? evicted = null;
        bool kept;
        lock (_write)
        {
            if (Find(_bans, key, now) is { } running)
            {
                return (running, false);
            }

            kept = Set(key, new KnownBan(ban, Shared: false, time.GetTimestamp(), Rules.RankOf(rule.Name)), ref evicted);
        }

        Report(evicted, notKept: kept ? null : ban);
        return kept ? (ban, true) : (null, false);
    }

    /// <summary>Adds (or replaces) the key's ban; false when the table is at its cap with bans ranked above this one.</summary>
    private bool Learn(BanEntry ban, bool shared)
    {
        List<Eviction>? evicted = null;
        bool kept;
        lock (_write)
        {
            kept = Set(ban.Key, new KnownBan(ban, shared, time.GetTimestamp(), Rank(ban)), ref evicted);
        }

        Report(evicted, notKept: kept ? null : ban);
        return kept;
    }

    private BanRank Rank(BanEntry ban) => ban.Rule is null ? BanRank.Manual : Rules.RankOf(ban.Rule);

    /// <summary>
    /// A running ban Redis evicted for a ban this instance's count or manual ban added: this instance made the decision,
    /// so it audits it (every instance drops the ban from the published lift).
    /// </summary>
    private void ForgetEvicted(BanEntry evicted)
    {
        Forget(evicted.Key);
        Report([new Eviction(evicted, Audited: true)], notKept: null);
    }

    /// <summary>
    /// The cap's decisions, after the lock: each eviction is counted, and audited (a client's ban ended early) when this
    /// instance's table was the one that held it: its own bans, or a shared one Redis evicted for this instance's ban. A
    /// replica that drops a shared ban for want of room does not audit it: Redis still has it, and other instances enforce it.
    /// </summary>
    private void Report(List<Eviction>? evicted, BanEntry? notKept)
    {
        if (evicted is null && notKept is null)
        {
            return;
        }

        foreach (var (ban, audited) in evicted ?? [])
        {
            metrics.Evicted(ban.Rule);
            if (audited)
            {
                audit.Unbanned(ban.Key, IThreatEventSink.EvictedBy, ban.Subject ?? BanSubjects.ForManual(ban.Key, principal: null, tenant: null));
            }

            LogFull(evicted: true);
        }

        if (notKept is not null)
        {
            metrics.NotKept(notKept.Rule);
            LogFull(evicted: false);
        }
    }

    private void LogFull(bool evicted)
    {
        if (_fullLog.TryTake(time, out var unlogged))
        {
            Log.TableFull(logger, Rules.MaxBans, evicted ? "evicted the running ban it ranks lowest" : "kept no new ban of a lower rank than every ban in it", unlogged);
        }
    }

    private KnownBan? Forget(string key)
    {
        lock (_write)
        {
            if (!_bans.TryGetValue(key, out var known))
            {
                return null;
            }

            Remove(key);
            return known;
        }
    }

    /// <summary>
    /// Removes the key's ban; true when it was still running at that moment (the clock is read under the lock), with the
    /// ban's subject.
    /// </summary>
    private (bool Lifted, BanSubject? Subject) ForgetRunning(string key)
    {
        lock (_write)
        {
            if (!_bans.TryGetValue(key, out var known))
            {
                return (false, null);
            }

            Remove(key);
            return known.Ban.IsActive(time.GetUtcNow()) ? (true, known.Ban.Subject) : (false, null);
        }
    }

    // Called under _write. A network is listed after its ban is in the table (and unlisted before it leaves), so a reader
    // that finds the network finds its ban, or finds none once it is lifted. A new key beyond the cap first evicts the
    // ban the cap values least (added to evicted); false when there is none it may evict: the ban is not added.
    private bool Set(string key, KnownBan known, ref List<Eviction>? evicted)
    {
        if (!_bans.ContainsKey(key))
        {
            if (_count >= Rules.MaxBans && !MakeRoom(known.Rank, ref evicted))
            {
                return false;
            }

            _count++;
            metrics.Active(_count);
        }

        _bans[key] = known;
        _anyBans = true;
        if (known.Rank != BanRank.Manual)
        {
            _evictable.Enqueue(known, (known.Rank, known.Ban.Until));
            if (_evictable.Count > 2 * _count + 1024)
            {
                _evictable = new(_bans.Values.Where(b => b.Rank != BanRank.Manual).Select(b => (b, (b.Rank, b.Ban.Until))));
            }
        }

        if (BanEntry.TryParseNetwork(key, out var network) && Array.FindIndex(_networks, n => n.Key == key) < 0)
        {
            _networks = [.. _networks, new NetworkBan(network, BanEntry.Ipv4Part(network), key)];
        }

        return true;
    }

    // Called under _write: removes the first evictable ban of a rank up to the new ban's (an ended one whatever its rank,
    // without a record: it lifts nothing). Ended bans of a higher rank wait for the once-a-second prune.
    private bool MakeRoom(BanRank rank, ref List<Eviction>? evicted)
    {
        var now = time.GetUtcNow();
        while (_evictable.TryPeek(out var first, out var order))
        {
            if (!_bans.TryGetValue(first.Ban.Key, out var current) || !ReferenceEquals(current, first))
            {
                _evictable.Dequeue();
                continue;
            }

            var running = first.Ban.IsActive(now);
            if (running && order.Rank > rank)
            {
                return false;
            }

            _evictable.Dequeue();
            Remove(first.Ban.Key);
            if (running)
            {
                (evicted ??= []).Add(new Eviction(first.Ban, Audited: !first.Shared));
            }

            return true;
        }

        return false;
    }

    // Called under _write.
    private void Remove(string key)
    {
        if (_networks.Length > 0 && Array.FindIndex(_networks, n => n.Key == key) >= 0)
        {
            _networks = Array.FindAll(_networks, n => n.Key != key);
        }

        if (_bans.TryRemove(key, out _))
        {
            _count--;
            metrics.Active(_count);
        }

        _anyBans = _count > 0;
    }

    // Called under _write: the table becomes next, key by key; an unchanged ban keeps its entry (no allocation per
    // ban per sync).
    private void Replace(Dictionary<string, KnownBan> next, ref List<Eviction>? evicted)
    {
        foreach (var key in _bans.Keys)
        {
            if (!next.ContainsKey(key))
            {
                Remove(key);
            }
        }

        foreach (var (key, known) in next)
        {
            if (!_bans.TryGetValue(key, out var current) || current.Shared != known.Shared || current.Ban != known.Ban)
            {
                Set(key, known, ref evicted);
            }
        }
    }

    private static BanEntry? FindNetwork(ConcurrentDictionary<string, KnownBan> bans, NetworkBan[] networks, string? clientIp, DateTimeOffset now)
    {
        if (clientIp is null || !IPAddress.TryParse(clientIp, out var address))
        {
            return null;
        }

        foreach (var network in networks)
        {
            // An IPv4 client is also the IPv4-mapped address inside an IPv6 network (computed once, when the ban was learnt).
            if ((network.Network.Contains(address) || (network.Ipv4 is { } ipv4 && ipv4.Contains(address))) && Find(bans, network.Key, now) is { } ban)
            {
                return ban;
            }
        }

        return null;
    }

    private static BanEntry? Find(ConcurrentDictionary<string, KnownBan> bans, string key, DateTimeOffset now) =>
        bans.TryGetValue(key, out var known) && known.Ban.IsActive(now) ? known.Ban : null;

    private EdgeDenial Block(EdgeRequestFeature request, BanEntry ban, DateTimeOffset now)
    {
        metrics.Blocked(request.RouteId ?? "");
        var retryAfter = ban.RemainingSeconds(now).ToString(CultureInfo.InvariantCulture);
        return new EdgeDenial(StatusCodes.Status403Forbidden, BlockedCode, "Client blocked",
            $"Too many refused requests; this client is blocked for {retryAfter} more seconds.")
        {
            Reason = BlockedCode + ":" + (ban.Rule ?? ThreatMetrics.ManualRule),
            Headers = new Dictionary<string, string> { ["Retry-After"] = retryAfter },
        };
    }

    private void Prune(DateTimeOffset now)
    {
        lock (_write)
        {
            foreach (var (key, known) in _bans)
            {
                if (!known.Ban.IsActive(now))
                {
                    Remove(key);
                }
            }
        }
    }

    private static void PruneCounts(ConcurrentDictionary<string, LocalWindow> counts, long now, long windowTicks)
    {
        foreach (var (key, window) in counts)
        {
            if (window.IsIdle(now, windowTicks))
            {
                counts.TryRemove(key, out _);
            }
        }
    }

    /// <param name="Shared">Read from (or written to) Redis; a shared ban missing from a later load was lifted elsewhere.</param>
    /// <param name="Learned">When this instance learned it (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="Rank">What the cap keeps first, by the rules when it was learned.</param>
    private sealed record KnownBan(BanEntry Ban, bool Shared, long Learned, BanRank Rank);

    /// <param name="Audited">This instance's table was the ban's authority (see <see cref="Report"/>).</param>
    private readonly record struct Eviction(BanEntry Ban, bool Audited);

    private readonly record struct NetworkBan(IPNetwork Network, IPNetwork? Ipv4, string Key);

    /// <summary>The compiled rules of one config; <see cref="Late"/> are the ones whose key needs a step's result.</summary>
    private sealed class RuleSet
    {
        private readonly Dictionary<string, BanRank> _ranks;

        private RuleSet(ThreatRule[] all, int maxBans)
        {
            All = all;
            MaxBans = maxBans;
            _ranks = all.ToDictionary(r => r.Name, r => RankOf(r.Key), StringComparer.Ordinal);
            // A rule keyed on {ip} alone is already covered by the address check before the steps.
            Early = [.. all.Where(r => !r.Key.UsesStepState && r.Key.Segments is not [{ Kind: RateLimitKeyTemplate.SegmentKind.Ip }])];
            Late = [.. all.Where(r => r.Key.UsesStepState)];
            HeaderNames = [.. all.SelectMany(r => r.Key.HeaderNames).Distinct(StringComparer.OrdinalIgnoreCase)];
        }

        /// <summary>Every header a rule's key reads (<c>{header:Name}</c>); usually none.</summary>
        public string[] HeaderNames { get; }

        public ThreatRule[] All { get; }

        public ThreatRule[] Early { get; }

        public ThreatRule[] Late { get; }

        /// <summary><c>Edge:ThreatProtection:MaxBans</c>.</summary>
        public int MaxBans { get; }

        /// <summary>A rule's ban rank; a rule no longer configured ranks lowest (its key may be anything).</summary>
        public BanRank RankOf(string rule) => _ranks.GetValueOrDefault(rule, BanRank.ClientChosen);

        // {tenant} is what the client names (a header, host or path) before anything verifies it; {principal} is verified.
        private static BanRank RankOf(RateLimitKeyTemplate key) =>
            key.Segments.Any(s => s.Kind is RateLimitKeyTemplate.SegmentKind.Header or RateLimitKeyTemplate.SegmentKind.Tenant)
                ? BanRank.ClientChosen
                : BanRank.Connection;

        public static RuleSet Compile(ThreatProtectionOptions options)
        {
            // The config passed validation before it was applied; an invalid rule here cannot happen, and is skipped.
            var errors = new ConfigErrorList();
            return new RuleSet([.. options.Rules.Select(r => ThreatRule.TryCreate(r.Key, r.Value, errors)).OfType<ThreatRule>()], options.MaxBans);
        }
    }

    private sealed class LocalWindow(long start)
    {
        private readonly Lock _lock = new();
        private long _start = start;
        private int _count;

        public int Add(long now, long length)
        {
            lock (_lock)
            {
                if (now - _start >= length)
                {
                    _start = now;
                    _count = 0;
                }

                return ++_count;
            }
        }

        public void Reset(long now)
        {
            lock (_lock)
            {
                _start = now;
                _count = 0;
            }
        }

        public bool IsIdle(long now, long length)
        {
            lock (_lock)
            {
                return now - _start >= length;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2300, LogLevel.Warning, "Banned {KeyId} until {Until}: rule {Rule} counted {Threshold} events within {Window}")]
        public static partial void Banned(ILogger logger, string keyId, string rule, int threshold, TimeSpan window, DateTimeOffset until);

        [LoggerMessage(2301, LogLevel.Warning, "Ban of {KeyId} added on the management port, until {Until}")]
        public static partial void BanAdded(ILogger logger, string keyId, DateTimeOffset until);

        [LoggerMessage(2302, LogLevel.Warning, "Ban of {KeyId} lifted on the management port")]
        public static partial void BanLifted(ILogger logger, string keyId);

        [LoggerMessage(2303, LogLevel.Warning, "Ban rule {Rule}: Redis did not count the event ({Error}); counted in this instance only; {Unlogged} more of this rule's events were counted here only since the previous such line (at most one a minute per rule)")]
        public static partial void CountFailed(ILogger logger, string rule, string error, long unlogged);

        [LoggerMessage(2304, LogLevel.Warning, "Shared bans could not be reloaded from Redis ({Error}); the last known bans stay in force")]
        public static partial void SyncFailed(ILogger logger, string error);

        [LoggerMessage(2309, LogLevel.Warning, "A ban change of {KeyId} that timed out on the management port was applied by Redis after all; audited now")]
        public static partial void ConfirmedLate(ILogger logger, string keyId);

        [LoggerMessage(2308, LogLevel.Warning, "Redis had lost the shared bans (restarted empty, flushed or failed over without them); {Count} running bans this instance knew are kept and written back")]
        public static partial void BansLost(ILogger logger, int count);

        [LoggerMessage(2310, LogLevel.Warning, "The ban table is at its cap of {Max} bans (Edge:ThreatProtection:MaxBans) and {Action}; {Unlogged} more bans were evicted or not kept since the previous such line (at most one a minute)")]
        public static partial void TableFull(ILogger logger, int max, string action, long unlogged);

        [LoggerMessage(2305, LogLevel.Warning, "Ban rule {Rule} tracks {Max} keys in this instance already; a new key of it is not counted until old windows end; {Unlogged} more new keys of this rule went uncounted since the previous such line (at most one a minute per rule)")]
        public static partial void CountsFull(ILogger logger, string rule, int max, long unlogged);
    }
}
