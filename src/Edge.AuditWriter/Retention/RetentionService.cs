using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Edge.Configuration.Tenancy;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Retention;

/// <summary>
/// Applies Writer:Retention at start and then every <see cref="RetentionOptions.Interval"/> (on the injected <see cref="TimeProvider"/>):
/// records past their tenant's retention are pruned to their leaf hash and subject keys no record uses any more are
/// deleted. Each prune batch commits with an audit record naming what it pruned, and each run ends with its own record.
/// Without a Default or tenant entry the job does not run.
/// </summary>
internal sealed partial class RetentionService(
    AuditLog log, IOptions<WriterOptions> options, RetentionMetrics metrics, TimeProvider time, ILogger<RetentionService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retention = options.Value.Retention;
        if (!retention.Enabled)
        {
            return;
        }

        Log.Scheduled(logger, retention.Default?.ToString() ?? "forever", retention.Tenants.Count, retention.Interval);
        using var timer = new PeriodicTimer(retention.Interval, time);
        try
        {
            // Once at start, then every interval: the timer's first tick comes a whole interval after the start, so a
            // writer restarted more often than its interval (daily runs, nightly deployments) never pruned anything.
            await Task.Yield();
            await RunOnceAsync(retention, stoppingToken).ConfigureAwait(false);
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await RunOnceAsync(retention, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunOnceAsync(RetentionOptions retention, CancellationToken cancellationToken)
    {
        try
        {
            // The sequencer applies retention for every writer of a shared store. A standby keeps the run it is due and
            // applies it once it sequences: a PostgreSQL writer starts as a standby when another holds the lease, and its
            // run then came an interval later, so two writers restarted in turn more often than that never applied it.
            while (!log.IsSequencer)
            {
                await log.WhenSequencerAsync(cancellationToken).ConfigureAwait(false);
            }

            var result = await log.ApplyRetentionAsync(retention, cancellationToken).ConfigureAwait(false);
            metrics.RunApplied(result.Pruned, result.SubjectsShredded);
            Log.Applied(logger, result.Pruned, result.SubjectsShredded);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            metrics.RunFailed();
            Log.Failed(logger, exception);
        }
    }

    /// <summary>The longest period <see cref="PeriodicTimer"/> takes: 4,294,967,294 ms, about 49.7 days.</summary>
    internal static readonly TimeSpan MaxInterval = TimeSpan.FromMilliseconds(uint.MaxValue - 1.0);

    /// <summary>
    /// Refuses settings that would prune everything at once or never run. <paramref name="configuredTenants"/> is the
    /// <c>Writer:Retention:Tenants</c> section as written, to catch entries the binder left out of
    /// <see cref="RetentionOptions.Tenants"/>.
    /// </summary>
    public static void Validate(RetentionOptions retention, IConfigurationSection configuredTenants)
    {
        ArgumentNullException.ThrowIfNull(retention);
        ArgumentNullException.ThrowIfNull(configuredTenants);
        foreach (var entry in configuredTenants.GetChildren())
        {
            // The binder drops a dictionary entry whose value does not convert (Tenants:acme=7d) without a word, where
            // Default=7d stops the start: that tenant then silently followed Default, or was kept forever.
            if (!retention.Tenants.ContainsKey(entry.Key))
            {
                throw new InvalidOperationException(
                    $"Writer:Retention:Tenants:{entry.Key}: '{entry.Value}' is not a valid TimeSpan (d.hh:mm:ss, e.g. 30.00:00:00 for 30 days).");
            }
        }

        if (retention.Default is { } keep && keep <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Writer:Retention:Default must be a positive TimeSpan (absent = keep forever).");
        }

        foreach (var (tenant, span) in retention.Tenants)
        {
            // No record carries such a tenant: the rule would keep that tenant's records forever without a word.
            if (!TenantId.IsValid(tenant))
            {
                throw new InvalidOperationException(
                    $"Writer:Retention:Tenants:{tenant}: '{tenant}' is not a tenant id (1-64 characters from A-Z, a-z, 0-9, '.', '_', '-', not only dots), so no record would match it.");
            }

            if (span <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"Writer:Retention:Tenants:{tenant} must be a positive TimeSpan.");
            }
        }

        if (retention.Interval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Writer:Retention:Interval must be a positive TimeSpan.");
        }

        // PeriodicTimer refuses more: the retention job then failed once the host had started, which stopped the writer
        // with exit code 0 (a service manager restarting on failure left it down).
        if (retention.Interval > MaxInterval)
        {
            throw new InvalidOperationException(
                $"Writer:Retention:Interval must be at most {MaxInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture)}, not {retention.Interval.ToString("c", System.Globalization.CultureInfo.InvariantCulture)}.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(2140, LogLevel.Information, "Retention scheduled: default {Default}, {TenantOverrides} tenant overrides, every {Interval}")]
        public static partial void Scheduled(ILogger logger, string @default, int tenantOverrides, TimeSpan interval);

        [LoggerMessage(2141, LogLevel.Information, "Retention applied: {Pruned} records pruned to their leaf hash, {Shredded} subject keys deleted")]
        public static partial void Applied(ILogger logger, long pruned, long shredded);

        [LoggerMessage(2142, LogLevel.Error, "Retention run failed; it is retried at the next interval")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
