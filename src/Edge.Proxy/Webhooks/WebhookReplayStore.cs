using System.Security.Cryptography;
using System.Text;
using Edge.Proxy.Observability;
using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.Webhooks;

/// <summary>
/// Remembers verified delivery ids. With Redis, an atomic <c>SET key 1 NX PX ttl</c> makes exactly one of several edge
/// instances accept a delivery; without it, an in-process cache does. A singleton, so the state survives reloads.
/// </summary>
internal sealed partial class WebhookReplayStore(EdgeRedis redis, TimeProvider time, ILogger<WebhookReplayStore> logger)
{
    // At most one 1401 line a minute: during a Redis outage every delivery on every webhook route fails its check.
    private readonly LogWindow _redisFailedLog = new(TimeSpan.FromMinutes(1));

    public const string KeyPrefix = "edge:webhook:";

    private readonly LocalReplayCache _local = new(time);

    /// <summary>Key: prefix, the policy as Redis Cluster hash tag, and a hash of the id (ids are sender-chosen text).</summary>
    public static string Key(string policy, string deliveryId) =>
        KeyPrefix + "{" + policy + "}:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(deliveryId)));

    public async ValueTask<ReplayCheck> TryRegisterAsync(string policy, string deliveryId, TimeSpan ttl, bool rejectWhenRedisUnavailable)
    {
        var key = Key(policy, deliveryId);
        if (redis.IsConfigured)
        {
            try
            {
                // Null until the host's warm-up finished the first connect: treated like a disconnected Redis.
                if (redis.Multiplexer is { IsConnected: true } multiplexer)
                {
                    var added = await multiplexer.GetDatabase().StringSetAsync(key, 1, ttl, When.NotExists);
                    return added ? ReplayCheck.First : ReplayCheck.Duplicate;
                }

                // Once the client has marked a stalled Redis disconnected, calls stop failing and are skipped: without
                // this line an outage that outlived the first minute left no warning about the refused deliveries.
                LogRedisFailed(policy, NotConnected);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogRedisFailed(policy, ex.GetType().Name);
            }

            if (rejectWhenRedisUnavailable)
            {
                return ReplayCheck.Unavailable;
            }
        }

        return _local.TryAdd(key, ttl) ? ReplayCheck.First : ReplayCheck.Duplicate;
    }

    /// <summary>
    /// Forgets a delivery the edge recorded but that was not accepted downstream (backend error, later step denied), so
    /// the sender's retry of the same delivery is not mistaken for a replay.
    /// </summary>
    public async ValueTask ReleaseAsync(ReplayReservation reservation)
    {
        if (reservation.DeliveryId is { } deliveryId)
        {
            await ReleaseAsync(reservation.Policy, deliveryId);
        }

        if (reservation.SignatureId is { } signatureId)
        {
            await ReleaseAsync(reservation.Policy, signatureId);
        }
    }

    private async ValueTask ReleaseAsync(string policy, string deliveryId)
    {
        var key = Key(policy, deliveryId);
        _local.Remove(key);
        if (redis.IsConfigured)
        {
            try
            {
                if (redis.Multiplexer is { IsConnected: true } multiplexer)
                {
                    await multiplexer.GetDatabase().KeyDeleteAsync(key);
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
