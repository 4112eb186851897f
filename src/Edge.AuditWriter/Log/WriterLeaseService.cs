using Edge.Audit.Storage;
using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Log;

/// <summary>
/// Leadership over a shared PostgreSQL store, checked every Writer:LeaseInterval: a standby follows the log and tries the
/// lease; when it wins it takes over (<see cref="AuditLog.TakeOverAsync"/>). The sequencer checks its lease connection and
/// stands down the moment it is gone; its appends are fenced by the store in any case, so a lost lease can never commit.
/// </summary>
internal sealed partial class WriterLeaseService(AuditLog log, IOptions<WriterOptions> options, TimeProvider time, ILogger<WriterLeaseService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (log.Store is not PostgresAuditStore store)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.LeaseInterval, time);
        try
        {
            do
            {
                await TickAsync(store.Lease, stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        log.StepDown("the writer is stopping");
        store.Lease.Reset();
    }

    private async Task TickAsync(PostgresWriterLease lease, CancellationToken stoppingToken)
    {
        try
        {
            if (lease.Held)
            {
                if (!lease.IsAlive())
                {
                    log.StepDown("the lease connection to PostgreSQL was lost");
                }
                else if (!log.IsSequencer)
                {
                    // Held but fenced (a stale view): take over again, which re-reads the log.
                    await log.TakeOverAsync(stoppingToken).ConfigureAwait(false);
                }

                return;
            }

            if (lease.TryAcquire())
            {
                await log.TakeOverAsync(stoppingToken).ConfigureAwait(false);
            }
            else
            {
                log.CatchUp();
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Whatever failed (database, a store that does not match its checkpoint), the loop must keep running: a host
            // whose lease loop died would neither sequence nor step down. A takeover that could not finish must not keep
            // the lease either: another writer may be able to.
            log.StepDown("the lease check failed");
            lease.Reset();
            Log.LeaseCheckFailed(logger, exception);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2160, LogLevel.Warning, "Checking or taking the sequencer lease failed; retrying")]
        public static partial void LeaseCheckFailed(ILogger logger, Exception exception);
    }
}
