using Edge.Proxy.Redis;
using StackExchange.Redis;

namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Keeps this instance's ban table in step with the others: with Redis, it subscribes to the bans channel (a ban or lift
/// elsewhere applies here as soon as the message arrives) and reloads every <see cref="ThreatMonitor.SyncInterval"/> in
/// case a message was missed (one Redis call per instance, whatever the traffic). Without Redis it drops ended bans.
/// </summary>
internal sealed partial class BanSynchronizer(ThreatMonitor monitor, EdgeRedis redis, TimeProvider time, ILogger<BanSynchronizer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SubscribeAsync();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(ThreatMonitor.SyncInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await monitor.SyncAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // An entry this edge cannot read (written by another version, or by hand) must not stop the loop: an
                // exception leaving a BackgroundService stops the host, and every instance reads the same entries.
                Log.SyncThrew(logger, ex);
            }
        }
    }

    private async Task SubscribeAsync()
    {
        try
        {
            // The multiplexer keeps a subscription it could not make yet and makes it once connected (and again after
            // each reconnect); until then the once-a-second reload carries bans made elsewhere.
            if (await redis.ConnectAsync().ConfigureAwait(false) is { } multiplexer)
            {
                await multiplexer.GetSubscriber().SubscribeAsync(RedisBanStore.Channel, (_, message) => monitor.OnPublished(message)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.SubscribeFailed(logger, ex.GetType().Name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2306, LogLevel.Warning, "Could not subscribe to shared ban changes yet ({Error}); the Redis client subscribes once connected, and until then bans elsewhere apply here at the next reload")]
        public static partial void SubscribeFailed(ILogger logger, string error);

        [LoggerMessage(2307, LogLevel.Error, "Reloading the shared bans failed; the last known bans stay in force and the next reload tries again")]
        public static partial void SyncThrew(ILogger logger, Exception exception);
    }
}
