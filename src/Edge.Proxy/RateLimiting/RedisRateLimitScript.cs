using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace Edge.Proxy.RateLimiting;

/// <summary>
/// The one atomic Lua script behind every Redis decision (strict) or lease claim (lease). Time comes from Redis
/// <c>TIME</c>, so the edges' clocks may be skewed; a stored timestamp never moves backwards; state is written only when
/// tokens are granted, with a TTL of the time to refill plus one second. Sent with EVALSHA; on NOSCRIPT (a restarted or
/// flushed server) the script is sent once with EVAL, which caches it again. <c>redis.replicate_commands()</c> lets
/// Redis 3.2-4 accept a write after <c>TIME</c>; from Redis 5 it is the default and in 7 a no-op. A server that still
/// refuses <c>TIME</c> gets the edge's offset-corrected time as an argument instead (<see cref="RedisClientClock"/>); a
/// token bucket's stored timestamp only moves forward (<c>now &gt; last</c>) and a GCRA's TAT is <c>max(tat, now)</c>
/// plus the granted emission, so a clock that jumps back refills nothing and never rewinds state. A refusal writes
/// only when a token bucket's key would expire before the bucket is full again, which happens after its policy was
/// edited to refill more slowly (a longer Window, a lower Limit): the TTL set under the old settings would otherwise
/// drop the spent bucket and hand the partition a full one. A GCRA key holds an absolute time, whose TTL stays right.
/// A token bucket also stores the burst it was written under (<c>b</c>): after an edit of the policy the partition keeps
/// what it used, not what it had left, so a raised limit gives the difference at once and a lowered one takes it away
/// (as the in-process buckets do). A GCRA key does the same: its value is the TAT in microseconds, then after a '.'
/// the burst (8 digits) and the emission interval in nanoseconds it was written under. Read as one number the value is
/// still the TAT (an edge of an earlier version reads it so), and a plain TAT written by such an edge is taken as is.
/// Without them, the TAT's distance from now was read as tokens at the new rate: lengthening the Window gave a spent
/// partition most of its burst back at once, and shortening it took tokens it had not used.
/// </summary>
internal sealed class RedisRateLimitScript
{
    // ARGV: 1 algorithm (0 token bucket, 1 GCRA), 2 burst, 3 emission interval in microseconds, 4 client time in Unix
    // microseconds or '' (used instead of TIME when the server refuses TIME in scripts), then one (want, min) pair per
    // request, applied in order against the same bucket as if sent one after the other at the same instant: several
    // concurrent decisions on one key share one call and each gets its own grant. Returns, per request,
    // {granted, remaining, reset_us, retry_us}.
    public const string Source = """
        local alg = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local emission = tonumber(ARGV[3])
        local now = tonumber(ARGV[4])
        if now == nil then
          if redis.replicate_commands then redis.replicate_commands() end
          local t = redis.call('TIME')
          now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        end
        local available, tat, last, stored
        if alg == 1 then
          local value = redis.call('GET', KEYS[1])
          tat = tonumber(string.match(value or '', '^%d+') or '') or now
          local wb, we = string.match(value or '', '^%d+%.(%d%d%d%d%d%d%d%d)(%d+)$')
          wb = tonumber(wb or '')
          we = tonumber(we or '')
          if wb ~= nil and we ~= nil and (wb ~= burst or math.abs(we / 1000 - emission) > 0.001) then
            we = we / 1000
            local left = math.max(0, math.min(burst, (wb * we - math.max(0, tat - now)) / we + (burst - wb)))
            tat = now + (burst - left) * emission
          end
          available = (burst * emission - math.max(0, tat - now)) / emission
        else
          local state = redis.call('HMGET', KEYS[1], 'tk', 'ts', 'b')
          available = tonumber(state[1])
          last = tonumber(state[2])
          local was = tonumber(state[3])
          stored = available ~= nil and last ~= nil
          if not stored then
            available = burst
            last = now
          end
          if now > last then
            available = math.min(burst, available + (now - last) / emission)
            last = now
          end
          if stored and was ~= nil and was ~= burst then
            available = math.max(0, math.min(burst, available + (burst - was)))
          end
        end
        local out = {}
        local total = 0
        local reset = 0
        for i = 5, #ARGV - 1, 2 do
          local want = tonumber(ARGV[i])
          local min = tonumber(ARGV[i + 1])
          local granted = math.min(want, math.floor(available))
          local retry = 0
          if granted < min then
            granted = 0
            retry = math.ceil((min - available) * emission - 0.001)
          end
          available = available - granted
          total = total + granted
          reset = math.max(0, math.ceil((burst - available) * emission - 0.001))
          out[#out + 1] = granted
          out[#out + 1] = math.floor(available)
          out[#out + 1] = reset
          out[#out + 1] = retry
        end
        if total > 0 then
          local ttl = math.ceil(reset / 1000) + 1000
          if alg == 1 then
            redis.call('SET', KEYS[1], string.format('%.0f.%08d%.0f', math.ceil(math.max(tat, now) + total * emission), burst, emission * 1000), 'PX', ttl)
          else
            redis.call('HSET', KEYS[1], 'tk', string.format('%.6f', available), 'ts', string.format('%.0f', last), 'b', burst)
            redis.call('PEXPIRE', KEYS[1], ttl)
          end
        elseif stored and redis.call('PTTL', KEYS[1]) * 1000 < reset then
          redis.call('PEXPIRE', KEYS[1], math.ceil(reset / 1000) + 1000)
        end
        return out
        """;

    private static readonly byte[] Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Source));

    public static string Sha1Hex => Convert.ToHexStringLower(Sha1);

    /// <summary>The Redis key of a partition: prefix, algorithm and policy, then the partition as the hash tag.</summary>
    public static string KeyOf(RateLimitPolicy policy, string partition) =>
        $"{policy.KeyPrefix}{(policy.Algorithm == RateLimitAlgorithm.Gcra ? "gcra" : "tb")}:{policy.Name}:{{{partition}}}";

    /// <summary>Loads the script into a server's cache (warm-up), so the first decisions need no EVAL.</summary>
    public static Task LoadAsync(IServer server) => server.ScriptLoadAsync(Source);

    public static async Task<BucketResult> TakeAsync(IDatabaseAsync database, RateLimitPolicy policy, string partition, int want, int min, long? clientTimeMicroseconds = null) =>
        (await TakeManyAsync(database, policy, partition, [new BucketRequest(want, min)], clientTimeMicroseconds).ConfigureAwait(false))[0];

    /// <summary>
    /// Applies the requests in order in one atomic script call; one result per request. The script's own API, without
    /// the limiter's deadline, breaker and retries (the limiter sends through <see cref="RedisRateLimitConnection"/>).
    /// </summary>
    public static async Task<BucketResult[]> TakeManyAsync(IDatabaseAsync database, RateLimitPolicy policy, string partition, IReadOnlyList<BucketRequest> requests, long? clientTimeMicroseconds = null)
    {
        RedisKey[] keys = [KeyOf(policy, partition)];
        var values = Values(policy, requests, clientTimeMicroseconds);
        RedisResult result;
        try
        {
            result = await EvaluateAsync(database, keys, values, withSource: false).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (IsNoScript(ex))
        {
            result = await EvaluateAsync(database, keys, values, withSource: true).ConfigureAwait(false);
        }

        var results = new BucketResult[requests.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = Parse(result, i);
        }

        return results;
    }

    /// <summary>Sends the script (EVALSHA, or EVAL when <paramref name="withSource"/>: after NOSCRIPT) with prepared arguments.</summary>
    internal static Task<RedisResult> EvaluateAsync(IDatabaseAsync database, RedisKey[] keys, RedisValue[] values, bool withSource) =>
        withSource ? database.ScriptEvaluateAsync(Source, keys, values) : database.ScriptEvaluateAsync(Sha1, keys, values);

    internal static bool IsNoScript(RedisServerException ex) => ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal);

    /// <summary>The script's ARGV for these requests (see <see cref="Source"/>).</summary>
    internal static RedisValue[] Values(RateLimitPolicy policy, IReadOnlyList<BucketRequest> requests, long? clientTimeMicroseconds)
    {
        var values = new RedisValue[4 + (2 * requests.Count)];
        values[0] = policy.Algorithm == RateLimitAlgorithm.Gcra ? 1 : 0;
        values[1] = policy.Burst;
        values[2] = policy.EmissionIntervalTicks / 10.0;
        values[3] = clientTimeMicroseconds is { } clientTime ? clientTime : RedisValue.EmptyString;
        for (var i = 0; i < requests.Count; i++)
        {
            values[4 + (2 * i)] = requests[i].Want;
            values[5 + (2 * i)] = requests[i].Min;
        }

        return values;
    }

    /// <summary>The result of request <paramref name="index"/> from the script's answer.</summary>
    internal static BucketResult Parse(RedisResult result, int index)
    {
        var items = (RedisResult[])result!;
        return new BucketResult(
            (int)(long)items[4 * index],
            Math.Max(0, (long)items[(4 * index) + 1]),
            TimeSpan.FromTicks((long)items[(4 * index) + 2] * 10),
            TimeSpan.FromTicks((long)items[(4 * index) + 3] * 10));
    }
}

/// <summary>One request of a script call: grant up to <see cref="Want"/> tokens, or none when fewer than <see cref="Min"/> are left.</summary>
internal readonly record struct BucketRequest(int Want, int Min);
