namespace Edge.Proxy.ThreatProtection;

/// <summary>
/// Reloads the shared bans every <see cref="ThreatMonitor.SyncInterval"/> (one Redis call per instance, whatever the
/// traffic), so a ban started or lifted on another instance applies here within that interval.
/// </summary>
internal sealed class BanSynchronizer(ThreatMonitor monitor, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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

            await monitor.SyncAsync().ConfigureAwait(false);
        }
    }
}
