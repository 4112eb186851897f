using Edge.AuditWriter.Hosting;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Log;

/// <summary>Signs a checkpoint every interval while records arrive (and once more at shutdown).</summary>
internal sealed partial class CheckpointService(AuditLog log, IOptions<WriterOptions> options, TimeProvider time, ILogger<CheckpointService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CheckpointInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await TryCheckpointAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await TryCheckpointAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private async Task TryCheckpointAsync(CancellationToken cancellationToken)
    {
        try
        {
            await log.CheckpointAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            Log.CheckpointFailed(logger, exception);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Signing a checkpoint failed")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);
    }
}
