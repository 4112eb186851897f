using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Edge.Proxy.Observability;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Remembers verified delivery ids. With Redis, an atomic <c>SET key reservation NX PX ttl</c> makes exactly one of several edge
/// instances accept a delivery; without it, an in-process cache does. A singleton, so the state survives reloads.
/// </summary>
internal sealed partial class WebhookReplayStore(EdgeRedis redis, TimeProvider time, ILogger<WebhookReplayStore> logger)
{
    // At most one 1401 line a minute: during a Redis outage every delivery on every webhook route fails its check.
    private readonly LogWindow _redisFailedLog = new(TimeSpan.FromMinutes(1));

    public const string KeyPrefix = "edge:webhook:";

    /// <summary>
    /// How long a replay check waits for Redis. The client's own timeout (5 s by default) held every delivery that long
    /// while Redis was frozen; a healthy Redis answers in well under a millisecond, and senders retry a 503.
    /// </summary>
    public static readonly TimeSpan RedisDeadline = TimeSpan.FromSeconds(1);

    private readonly LocalReplayCache _local = new(time);

    // Deliveries accepted in the local cache while Redis was configured but unreachable (OnRedisUnavailable: Local), with
    // the reservation value each was given (marked accepted once its first attempt was): written to Redis once it answers
    // again, or the cache alone remembered them and a replay after the outage was accepted on every instance, this one
    // included.
    private readonly ConcurrentDictionary<string, string> _acceptedLocally = new(StringComparer.Ordinal);
    private int _writingBack;

    // Set after each addition, cleared by a write-back before it lists them: every check reads it, and an empty
    // ConcurrentDictionary's IsEmpty takes all of its locks.
    private volatile bool _mayHaveLocalAcceptances;

    // Every this many local acceptances, those the local cache dropped leave the list too (it is at most about the
    // cache's capacity plus this many).
    private const int LocalAcceptancePruneEvery = 4096;
    private long _localAcceptances;

    // Each reservation's value is this instance's own, so an undo can tell it from another instance's reservation.
    private readonly string _reservationPrefix = ":" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + ":";
    private long _reservations;

    /// <summary>Key: prefix, the policy as Redis Cluster hash tag, and a hash of the id (ids are sender-chosen text).</summary>
    public static string Key(string policy, string deliveryId) =>
        KeyPrefix + "{" + policy + "}:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(deliveryId)));

    public async ValueTask<ReplayRegistration> TryRegisterAsync(string policy, string deliveryId, TimeSpan ttl, bool rejectWhenRedisUnavailable)
    {
        var key = Key(policy, deliveryId);
        var hold = new ReplayHold(key, NextReservation());
        if (!redis.IsConfigured)
        {
            return _local.TryAdd(key, ttl, hold.Value, out var held) ? new(ReplayCheck.First, hold) : Seen(held);
        }

        var sent = false;
        try
        {
            // Null until the host's warm-up finished the first connect: treated like a disconnected Redis.
            if (redis.Multiplexer is { IsConnected: true } multiplexer)
            {
                var database = multiplexer.GetDatabase();
                if (_mayHaveLocalAcceptances && Interlocked.CompareExchange(ref _writingBack, 1, 0) == 0)
                {
                    // Sent ahead on the same connection (before its first await): a replay of one of them is answered from
                    // Redis below. One write-back at a time, so a slow Redis is not sent the list again with every check.
                    _ = WriteBackLocalAcceptancesAsync(database);
                }

                sent = true;
                if (await database.StringSetAsync(key, hold.Value, ttl, When.NotExists).WaitAsync(RedisDeadline, time).ConfigureAwait(false))
                {
                    return new(ReplayCheck.First, hold);
                }

                // Seen before: whether its first attempt was accepted is in the value. Read and, should the key have gone
                // meanwhile (released by a failed first attempt, or expired), reserved in one step.
                var existing = await database.ScriptEvaluateAsync(ClaimScript, [key], [hold.Value, (long)ttl.TotalMilliseconds])
                    .WaitAsync(RedisDeadline, time).ConfigureAwait(false);
                return existing.IsNull ? new(ReplayCheck.First, hold) : Seen((string?)existing);
            }

            // Once the client has marked a stalled Redis disconnected, calls stop failing and are skipped: without
            // this line an outage that outlived the first minute left no warning about the refused deliveries.
            LogRedisFailed(policy, NotConnected);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisFailed(policy, ex.GetType().Name);
            redis.RefreshAfterFailure(ex);
        }

        if (rejectWhenRedisUnavailable)
        {
            if (sent)
            {
                _ = UndoUnansweredReservationAsync(key, hold.Value);
            }

            return new(ReplayCheck.Unavailable);
        }

        // Accepted by this instance's cache: a reservation Redis still makes late stands for this acceptance, and the
        // write-back sends the same value.
        if (!_local.TryAdd(key, ttl, hold.Value, out var cached))
        {
            return Seen(cached);
        }

        _acceptedLocally[key] = hold.Value;
        _mayHaveLocalAcceptances = true;
        if (Interlocked.Increment(ref _localAcceptances) % LocalAcceptancePruneEvery == 0)
        {
            PruneLocalAcceptances();
        }

        return new(ReplayCheck.First, hold);
    }

    private static ReplayRegistration Seen(string? value) =>
        new(value is not null && ReplayHold.IsAccepted(value) ? ReplayCheck.Duplicate : ReplayCheck.InFlight);

    // The key's value, or (nil) when it had none and now holds ARGV[1] for ARGV[2] ms.
    private const string ClaimScript =
        "local v = redis.call('GET', KEYS[1]) if v then return v end redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return false";

    /// <summary>
    /// Records that the first attempt of a reserved delivery was accepted (answered below 400), so a duplicate from now
    /// on, on any instance, gets <c>ReplayStatus</c> rather than 409 <c>delivery_in_flight</c>. Runs before that answer's
    /// status goes out, bounded like the check: a mark Redis does not take leaves the delivery in flight until its TTL,
    /// which refuses duplicates all the same.
    /// </summary>
    public async ValueTask MarkAcceptedAsync(ReplayReservation reservation)
    {
        // Both marks go out before either is awaited, so a delivery holding two keys (GitHub's id and signature) waits one
        // round trip for its status, not two in a row. Each is still a check-and-set of this request's own value on its own
        // key: neither depends on the other's outcome, and each bounds its own wait by the deadline.
        var delivery = reservation.Delivery is { } deliveryHold ? MarkAcceptedAsync(reservation.Policy, deliveryHold) : default;
        var signature = reservation.Signature is { } signatureHold ? MarkAcceptedAsync(reservation.Policy, signatureHold) : default;
        await delivery;
        await signature;
    }

    private async ValueTask MarkAcceptedAsync(string policy, ReplayHold hold)
    {
        var accepted = hold.AcceptedValue;
        _local.TryReplace(hold.Key, hold.Value, accepted);
        if (_acceptedLocally.TryUpdate(hold.Key, accepted, hold.Value))
        {
            // Written back already or not, the write-back sends the accepted value (over the in-flight one).
            _mayHaveLocalAcceptances = true;
        }

        if (!redis.IsConfigured)
        {
            return;
        }

        try
        {
            if (redis.Multiplexer is { IsConnected: true } multiplexer)
            {
                await multiplexer.GetDatabase().ScriptEvaluateAsync(MarkScript, [hold.Key], [hold.Value])
                    .WaitAsync(RedisDeadline, time).ConfigureAwait(false);
            }
            else
            {
                LogRedisFailed(policy, NotConnected);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogRedisFailed(policy, ex.GetType().Name);
        }
    }

    // SETRANGE keeps the key's TTL (and needs no Redis 6 KEEPTTL): only the state character changes.
    private const string MarkScript =
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SETRANGE', KEYS[1], 0, 'A') end return 0";

    /// <summary>
    /// Drops the listed acceptances the local cache no longer holds (expired, or trimmed at its capacity): a long outage
    /// with deliveries coming in would otherwise grow the list without bound, since only a write-back empties it.
    /// </summary>
    private void PruneLocalAcceptances()
    {
        foreach (var entry in _acceptedLocally)
        {
            if (!_local.TryGetRemaining(entry.Key, out _, out _))
            {
                _acceptedLocally.TryRemove(entry);
            }
        }
    }

    /// <summary>
    /// Records in Redis, for what is left of their TTL, the deliveries this instance accepted on its own while Redis was
    /// unreachable. <c>NX</c>: a key another instance holds (it accepted the delivery too, during the outage) stays.
    /// </summary>
    private async Task WriteBackLocalAcceptancesAsync(IDatabase database)
    {
        try
        {
            _mayHaveLocalAcceptances = false;
            var writes = new List<(KeyValuePair<string, string> Entry, Task<RedisResult> Write)>();
            foreach (var entry in _acceptedLocally)
            {
                if (_local.TryGetRemaining(entry.Key, out var remaining, out _))
                {
                    var inFlight = ReplayHold.InFlightValue(entry.Value[1..]);
                    writes.Add((entry, database.ScriptEvaluateAsync(WriteBackScript, [entry.Key], [entry.Value, inFlight, (long)Math.Ceiling(remaining.TotalMilliseconds)])));
                }
                else
                {
                    _acceptedLocally.TryRemove(entry);
                }
            }

            foreach (var (entry, write) in writes)
            {
                try
                {
                    await write.ConfigureAwait(false);
                    if (!_acceptedLocally.TryRemove(entry) && !_acceptedLocally.ContainsKey(entry.Key)
                        && !(_local.TryGetRemaining(entry.Key, out _, out var held) && held is not null && held[1..] == entry.Value[1..]))
                    {
                        // Released while the write was on its way, and the release's delete may have reached Redis first.
                        await database.ScriptEvaluateAsync(UndoScript, [entry.Key], [entry.Value]).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
                {
                    // Still listed: written back with a later check.
                    _mayHaveLocalAcceptances = true;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _writingBack, 0);
        }
    }

    // Written when absent, or over this instance's in-flight value of the same reservation (it was written back before its
    // first attempt was accepted): never over another instance's reservation, and never back from accepted to in flight.
    private const string WriteBackScript =
        "local v = redis.call('GET', KEYS[1]) if not v or v == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1 end return 0";

    private string NextReservation() => ReplayHold.InFlightValue(_reservationPrefix + Interlocked.Increment(ref _reservations).ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// A reservation sent but not answered in time (the deadline here, or the client's own timeout) may still be made
    /// once Redis wakes; the delivery was refused 503 meanwhile, so left in place it would refuse the sender's retry as a
    /// replay and the delivery would be lost. Sent at once behind the reservation on the same connection, the undo runs
    /// after it, and deletes the key only while it holds this reservation (never another instance's).
    /// </summary>
    private async Task UndoUnansweredReservationAsync(string key, string reservation)
    {
        try
        {
            if (redis.Multiplexer is { } multiplexer)
            {
                await multiplexer.GetDatabase().ScriptEvaluateAsync(UndoScript, [key], [reservation]).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Redis cannot take the undo either: the reservation, if it was made, expires with its TTL.
        }
    }

    private const string UndoScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    /// <summary>
    /// Forgets a delivery the edge recorded but that was not accepted downstream (backend error, later step denied), so
    /// the sender's retry of the same delivery is not mistaken for a replay.
    /// </summary>
    public async ValueTask ReleaseAsync(ReplayReservation reservation)
    {
        // Sent together for one round trip, as the accepted marks are; each still deletes only this request's own value.
        var delivery = reservation.Delivery is { } deliveryHold ? ReleaseAsync(reservation.Policy, deliveryHold) : default;
        var signature = reservation.Signature is { } signatureHold ? ReleaseAsync(reservation.Policy, signatureHold) : default;
        await delivery;
        await signature;
    }

    private async ValueTask ReleaseAsync(string policy, ReplayHold hold)
    {
        _local.Remove(hold.Key, hold.Value);
        _acceptedLocally.TryRemove(new KeyValuePair<string, string>(hold.Key, hold.Value));
        if (redis.IsConfigured)
        {
            try
            {
                if (redis.Multiplexer is { IsConnected: true } multiplexer)
                {
                    // Bounded like the check: the release holds a refusal's answer (it runs before the status goes out), and
                    // a delete still on the wire is made when Redis wakes. Only this request's own reservation is deleted:
                    // once its TTL ran out the key may be another request's, on this instance or another, and a delivery
                    // accepted during an outage may be held by another instance that accepted it too.
                    await multiplexer.GetDatabase().ScriptEvaluateAsync(UndoScript, [hold.Key], [hold.Value])
                        .WaitAsync(RedisDeadline, time).ConfigureAwait(false);
                }
                else
                {
                    LogRedisFailed(policy, NotConnected);
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisFailed(policy, ex.GetType().Name);
            }
        }
    }

    private const string NotConnected = "NotConnected";

    private void LogRedisFailed(string policy, string error)
    {
        if (_redisFailedLog.TryTake(time, out var unlogged))
        {
            Log.RedisFailed(logger, policy, error, unlogged);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1401, LogLevel.Warning, "Webhook replay check for policy {Policy} could not reach Redis ({Error}); {Unlogged} more since the previous such line (at most one a minute)")]
        public static partial void RedisFailed(ILogger logger, string policy, string error, long unlogged);
    }
}
