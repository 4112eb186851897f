using System.Globalization;
using System.Text.Json;
using Edge.Configuration.ThreatProtection;
using Edge.Proxy.Pipeline;
using StackExchange.Redis;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Bans and event counts shared by every edge instance. Keys share one hash tag so each script touches one Redis Cluster
/// slot: the bans are a sorted set (member = ban key, score = end in Unix ms) so they can be listed and expired in one
/// call, with the rule and reason in a hash beside it; each count is a string with the rule's window as its expiry.
/// Every change is also published on <see cref="Channel"/> by the same script, so the other instances learn it at once
/// (the periodic reload is the backstop for a missed message).
/// </summary>
internal static class RedisBanStore
{
    public const string BansKey = "edge:threat:{bans}";
    public const string InfoKey = "edge:threat:{bans}:info";
    public const string CountPrefix = "edge:threat:{bans}:n:";

    /// <summary>
    /// A random id the first reload after the bans were lost writes (a Redis restarted empty, flushed, or failed over
    /// without them): an instance that sees it change knows a ban missing from Redis was lost, not lifted.
    /// </summary>
    public const string EpochKey = "edge:threat:{bans}:epoch";

    /// <summary>
    /// Counts every change of the bans (added, restored, lifted; not an ending ban, which each instance drops by its own
    /// clock): a reload that finds the epoch and this count as it last saw them answers without the bans.
    /// </summary>
    public const string VersionKey = "edge:threat:{bans}:version";
    public const string ChannelName = "edge:threat:bans";

    /// <summary>
    /// The bans the cap may evict, one sorted set per <see cref="BanRank"/> below <see cref="BanRank.Manual"/> (member =
    /// ban key, score = end): the ban a full table evicts is the first of the lowest rank. A ban stored without one (by
    /// an older edge, or by hand) is never evicted.
    /// </summary>
    public const string EvictablePrefix = "edge:threat:{bans}:evictable:";

    public static readonly RedisChannel Channel = RedisChannel.Literal(ChannelName);

    // Makes room for a new ban beyond the cap (ARGV cap): an ended ban goes first, else the first evictable ban of a rank
    // up to the new ban's (lowest rank first, soonest end first), which is lifted and published like a DELETE. Answers
    // {} (room, nothing evicted), {key, info} (evicted) or nil (full of bans the cap keeps before this one).
    private const string RoomFunction = """
        local function drop(bans, info, e0, e1, member)
          redis.call('ZREM', bans, member)
          redis.call('HDEL', info, member)
          redis.call('ZREM', e0, member)
          redis.call('ZREM', e1, member)
        end
        local function room(bans, info, version, e0, e1, channel, cap, rank, now, key)
          if redis.call('ZSCORE', bans, key) or redis.call('ZCARD', bans) < cap then return {} end
          local ended = redis.call('ZRANGEBYSCORE', bans, '-inf', now, 'LIMIT', 0, 1)
          if #ended > 0 then
            drop(bans, info, e0, e1, ended[1])
            return {}
          end
          local ranks = {e0, e1}
          for r = 1, math.min(rank + 1, 2) do
            while true do
              local first = redis.call('ZRANGE', ranks[r], 0, 0)
              if #first == 0 then break end
              local victim = first[1]
              if redis.call('ZSCORE', bans, victim) then
                local victimInfo = redis.call('HGET', info, victim) or ''
                drop(bans, info, e0, e1, victim)
                redis.call('INCR', version)
                redis.call('PUBLISH', channel, cjson.encode({Key = victim, Until = 0, Lifted = true}))
                return {victim, victimInfo}
              end
              redis.call('ZREM', ranks[r], victim)
            end
          end
          return nil
        end
        """;

    // One round trip per counted denial: INCR + PEXPIRE on the first event of a window; at the threshold, the ban is
    // added unless one is already running (then its end is returned, so this instance learns of it at once), after
    // making room for it under the cap. Answers {count, created, end, evicted key, evicted info, not kept}.
    private const string CountScript = RoomFunction + "\n" + """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        if n < tonumber(ARGV[2]) then return {n, 0, 0, '', '', 0} end
        local current = redis.call('ZSCORE', KEYS[2], ARGV[5])
        if current and tonumber(current) > tonumber(ARGV[3]) then return {n, 0, tonumber(current), '', '', 0} end
        local evicted = room(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[3], ARGV[5])
        if not evicted then return {n, 0, 0, '', '', 1} end
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
        redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
        redis.call('ZREM', KEYS[5], ARGV[5])
        redis.call('ZREM', KEYS[6], ARGV[5])
        redis.call('ZADD', KEYS[5 + tonumber(ARGV[10])], ARGV[4], ARGV[5])
        redis.call('DEL', KEYS[1])
        redis.call('INCR', KEYS[4])
        redis.call('PUBLISH', ARGV[8], ARGV[7])
        return {n, 1, tonumber(ARGV[4]), evicted[1] or '', evicted[2] or '', 0}
        """;

    // ARGV[3]/ARGV[4]: the epoch and version the caller last loaded ('' for none): unchanged, only {epoch, version}
    // comes back. Before, every instance fetched every ban each second (40,000 bans: the whole table a second, parsed
    // on each instance, and a Lua loop blocking Redis meanwhile).
    private const string LoadScript = """
        local epoch = redis.call('GET', KEYS[3])
        if not epoch then
          epoch = ARGV[2]
          redis.call('SET', KEYS[3], epoch)
        end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        for i = 1, #expired do redis.call('HDEL', KEYS[2], expired[i]) end
        if #expired > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
          redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[1])
          redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[1])
        end
        local version = redis.call('GET', KEYS[4]) or '0'
        if epoch == ARGV[3] and version == ARGV[4] then return {epoch, version} end
        local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
        local result = {epoch, version}
        for i = 1, #live, 2 do
          result[#result + 1] = live[i]
          result[#result + 1] = live[i + 1]
          result[#result + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
        end
        return result
        """;

    // A ban Redis lost, added back unless Redis has one for the key already (an instance that restored it first, or a
    // newer ban) or the table is at its cap (a restore evicts no running ban); published so instances that never knew it
    // learn it. ARGV[7]: its rank (2 = manual, not evictable).
    private const string RestoreScript = """
        if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[6]) and redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2]) == 1 then
          redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
          if tonumber(ARGV[7]) < 2 then redis.call('ZADD', KEYS[4 + tonumber(ARGV[7])], ARGV[1], ARGV[2]) end
          redis.call('INCR', KEYS[3])
          redis.call('PUBLISH', ARGV[5], ARGV[4])
        end
        return 1
        """;

    // A manual ban: never evictable, and it may evict any rule's ban to make room. Answers {0} when the table is full of
    // manual bans, else {1, evicted key, evicted info}.
    private const string AddScript = RoomFunction + "\n" + """
        local evicted = room(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[5], tonumber(ARGV[6]), 2, ARGV[7], ARGV[2])
        if not evicted then return {0, '', ''} end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
        redis.call('ZREM', KEYS[4], ARGV[2])
        redis.call('ZREM', KEYS[5], ARGV[2])
        redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[5], ARGV[4])
        return {1, evicted[1] or '', evicted[2] or ''}
        """;

    // Answers {1, info} only for a ban still running at ARGV[4] (Unix ms): an ended ban stays in the set until the next
    // load, and removing it lifts nothing. The info brings the ban's subject, so the lift is audited under it.
    private const string RemoveScript = """
        local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
        local info = redis.call('HGET', KEYS[2], ARGV[1]) or ''
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('INCR', KEYS[3]) end
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[4], ARGV[1])
        redis.call('ZREM', KEYS[5], ARGV[1])
        redis.call('PUBLISH', ARGV[3], ARGV[2])
        if ends and tonumber(ends) > tonumber(ARGV[4]) then return {1, info} end
        return {0, ''}
        """;

    private static readonly RedisKey[] BanKeys = [BansKey, InfoKey, VersionKey, EvictablePrefix + "0", EvictablePrefix + "1"];
    private static readonly RedisKey[] LoadKeys = [BansKey, InfoKey, EpochKey, VersionKey, EvictablePrefix + "0", EvictablePrefix + "1"];

    /// <summary>
    /// Counts one event; returns the count and, when the key is (now or already) banned, the ban; with the running ban the
    /// cap evicted to make room for it (<paramref name="maxBans"/>), or <c>NotKept</c> when the table was full of bans
    /// ranked above <paramref name="rank"/> and the ban was not added.
    /// </summary>
    /// <param name="subject">Whose ban it would be, stored with a ban this count starts (see <see cref="RemoveAsync"/>).</param>
    public static async Task<CountResult> CountAsync(
        IDatabase database, ThreatRule rule, string key, string reason, DateTimeOffset now, BanSubject? subject, int maxBans, BanRank rank)
    {
        var until = now + rule.BanFor;
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(
            CountScript,
            [CountPrefix + rule.Name + ":" + key, BansKey, InfoKey, VersionKey, EvictablePrefix + "0", EvictablePrefix + "1"],
            [(long)rule.Window.TotalMilliseconds, rule.Threshold, now.ToUnixTimeMilliseconds(), until.ToUnixTimeMilliseconds(), key, Info(rule.Name, reason, subject),
                Message(new BanEntry(key, until, rule.Name, reason)), ChannelName, maxBans, (int)rank])
            .ConfigureAwait(false))!;
        var count = (long)result[0];
        var created = (long)result[1] == 1;
        var end = (long)result[2];
        var evicted = Evicted((string?)result[3], (string?)result[4]);
        var notKept = (long)result[5] == 1;
        if (end == 0)
        {
            return new CountResult(count, null, false, null, notKept);
        }

        // An already running ban keeps its own rule and reason; this instance only needs its end to refuse requests.
        return new CountResult(count, new BanEntry(key, DateTimeOffset.FromUnixTimeMilliseconds(end), rule.Name, reason), created, evicted, notKept);
    }

    /// <summary>Adds a manual ban; false when the table is at <paramref name="maxBans"/> with manual bans only (nothing added).</summary>
    public static async Task<(bool Added, BanEntry? Evicted)> AddAsync(IDatabase database, BanEntry ban, int maxBans, DateTimeOffset now)
    {
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(AddScript, BanKeys,
            [ban.Until.ToUnixTimeMilliseconds(), ban.Key, Info(ban.Rule, ban.Reason, ban.Subject), Message(ban), ChannelName, maxBans, now.ToUnixTimeMilliseconds()])
            .ConfigureAwait(false))!;
        return ((long)result[0] == 1, Evicted((string?)result[1], (string?)result[2]));
    }

    /// <summary>Adds back bans Redis lost (see <see cref="EpochKey"/>), each unless Redis holds a ban of its key or is at <paramref name="maxBans"/>.</summary>
    public static Task RestoreAsync(IDatabase database, IReadOnlyList<(BanEntry Ban, BanRank Rank)> bans, int maxBans) =>
        Task.WhenAll(bans.Select(b => database.ScriptEvaluateAsync(RestoreScript, BanKeys,
            [b.Ban.Until.ToUnixTimeMilliseconds(), b.Ban.Key, Info(b.Ban.Rule, b.Ban.Reason, b.Ban.Subject), Message(b.Ban), ChannelName, maxBans, (int)b.Rank])));

    /// <summary>A ban the cap evicted, as its info hash had it (its end is gone with it: the time of eviction stands in).</summary>
    private static BanEntry? Evicted(string? key, string? info)
    {
        if (string.IsNullOrEmpty(key))
        {
            return null;
        }

        var stored = ParseInfo(info);
        var subject = new BanSubject(stored.Principal, stored.ClientIp, stored.Tenant);
        return new BanEntry(key, DateTimeOffset.MinValue, stored.Rule, stored.Reason ?? "") { Subject = subject.IsEmpty ? null : subject };
    }

    /// <summary>
    /// Removes the key's ban; true when it was still running at <paramref name="now"/>, with the subject stored with it
    /// (null for a ban an older edge stored, or one that named no one).
    /// </summary>
    public static async Task<(bool Lifted, BanSubject? Subject)> RemoveAsync(IDatabase database, string key, DateTimeOffset now)
    {
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(RemoveScript, BanKeys,
            [key, JsonSerializer.Serialize(new Published(key, 0, null, null, Lifted: true)), ChannelName, now.ToUnixTimeMilliseconds()]).ConfigureAwait(false))!;
        if ((long)result[0] == 0)
        {
            return (false, null);
        }

        var info = ParseInfo((string?)result[1]);
        var subject = new BanSubject(info.Principal, info.ClientIp, info.Tenant);
        return (true, subject.IsEmpty ? null : subject);
    }

    /// <summary>A message of <see cref="Channel"/>: the ban, or a lifted key (<see cref="Published.Lifted"/>); null when unreadable.</summary>
    public static Published? ParseMessage(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<Published>(json) is { Key.Length: > 0 } message ? message : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Every running ban (and drops the ended ones), with the bans' <see cref="EpochKey"/> (<paramref name="newEpoch"/>
    /// when Redis had none: it is then written) and <see cref="VersionKey"/>. Null bans when the epoch and version are
    /// still <paramref name="knownEpoch"/> and <paramref name="knownVersion"/>: nothing changed since that load.
    /// </summary>
    public static async Task<(List<BanEntry>? Bans, string Epoch, string Version)> LoadAsync(
        IDatabase database, DateTimeOffset now, string newEpoch, string? knownEpoch = null, string? knownVersion = null)
    {
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(LoadScript, LoadKeys,
            [now.ToUnixTimeMilliseconds(), newEpoch, knownEpoch ?? "", knownVersion ?? ""]).ConfigureAwait(false))!;
        var epoch = (string?)result[0] ?? newEpoch;
        var version = (string?)result[1] ?? "0";
        if (result.Length == 2 && string.Equals(epoch, knownEpoch, StringComparison.Ordinal) && string.Equals(version, knownVersion, StringComparison.Ordinal))
        {
            return (null, epoch, version);
        }

        var bans = new List<BanEntry>(result.Length / 3);
        for (var i = 2; i + 2 < result.Length; i += 3)
        {
            var key = (string)result[i]!;
            // A score this edge cannot read as a time (written by hand, or by another version) is skipped, not thrown.
            if (!double.TryParse((string?)result[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
                || !(score is >= 0 and < 253402300800000))
            {
                continue;
            }

            var until = DateTimeOffset.FromUnixTimeMilliseconds((long)score);
            var info = ParseInfo((string?)result[i + 2]);
            var subject = new BanSubject(info.Principal, info.ClientIp, info.Tenant);
            bans.Add(new BanEntry(key, until, info.Rule, info.Reason ?? "") { Subject = subject.IsEmpty ? null : subject });
        }

        return (bans, epoch, version);
    }

    private static string Message(BanEntry ban) =>
        JsonSerializer.Serialize(new Published(ban.Key, ban.Until.ToUnixTimeMilliseconds(), ban.Rule, ban.Reason, Lifted: false));

    private static string Info(string? rule, string reason, BanSubject? subject) =>
        JsonSerializer.Serialize(new StoredInfo(rule, reason, subject?.Principal, subject?.ClientIp, subject?.Tenant), s_info);

    private static StoredInfo ParseInfo(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return new StoredInfo(null, null);
        }

        try
        {
            return JsonSerializer.Deserialize<StoredInfo>(json) ?? new StoredInfo(null, null);
        }
        catch (JsonException)
        {
            return new StoredInfo(null, null);
        }
    }

    // Subject members only when set: a ban without one is stored as before, and an older edge reads either (unknown members are skipped).
    private static readonly JsonSerializerOptions s_info = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <param name="Principal">The ban's subject (<see cref="BanSubject"/>), kept only while the ban is stored, for its lift's record.</param>
    private sealed record StoredInfo(string? Rule, string? Reason, string? Principal = null, string? ClientIp = null, string? Tenant = null);

    /// <param name="Evicted">The running ban the cap removed to make room for <paramref name="Ban"/>.</param>
    /// <param name="NotKept">The threshold was crossed but the table was full of bans the cap keeps first: no ban.</param>
    internal sealed record CountResult(long Count, BanEntry? Ban, bool Created, BanEntry? Evicted, bool NotKept);

    internal sealed record Published(string Key, long Until, string? Rule, string? Reason, bool Lifted)
    {
        public BanEntry ToBan() => new(Key, DateTimeOffset.FromUnixTimeMilliseconds(Until), Rule, Reason ?? "");
    }
}
