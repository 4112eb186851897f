using System.Diagnostics.Metrics;
using System.Globalization;
using Edge.Audit.Records;
using Edge.Audit.Shipping;
using Edge.Proxy.Configuration;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Auditing;

/// <summary>Runs the shipper from the spool to the writer; on shutdown, drains what is spooled (bounded by DrainTimeout).</summary>
internal sealed partial class AuditShippingService(
    SpoolAuditSink sink, SecurityEventWriter events, IOptions<EdgeAuditOptions> options, TimeProvider time, IMeterFactory meterFactory,
    ILogger<AuditShipper> logger)
    : IHostedService, IAsyncDisposable
{
    private AuditShipper? _shipper;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Normally already open (lifecycle StartingAsync); the shipper's cursor needs the recovered ack mark.
        await sink.Spool.StartAsync(cancellationToken);
        var writers = AuditWriterUrls.Parse(options.Value.WriterUrl!);
        string? token = null;
        if (options.Value.IngestToken is { Length: > 0 } reference && !SecretReference.TryResolve(reference, out token, out var error))
        {
            throw new InvalidOperationException($"Edge:Audit:IngestToken: {error}");
        }

        _shipper = new AuditShipper(sink.Spool, new ShipperOptions
        {
            WriterUrls = writers,
            IngestToken = token,
            ShipInterval = options.Value.ShipInterval,
            Quarantined = RecordQuarantine,
        }, logger, handler: null, time, meterFactory);
        _shipper.Start();
    }

    /// <summary>
    /// The record set aside is in neither the spool nor the writer's log any more: a record of the quarantine goes in its
    /// place (kept past the cap, as the record it stands for was), so the trail says what it lacks. Not for a quarantined
    /// record of a quarantine, which a writer refusing every record would otherwise turn into one more per record.
    /// </summary>
    private void RecordQuarantine(QuarantinedRecord quarantined)
    {
        if (quarantined.RecordType == AuditEventTypes.RecordQuarantined)
        {
            return;
        }

        events.Append(events.NewRecord(AuditEventTypes.RecordQuarantined, "quarantined", "spool", quarantined.Code is { Length: > 0 } code ? code : null, new Dictionary<string, string>
        {
            ["recordId"] = quarantined.RecordId ?? "",
            ["recordType"] = quarantined.RecordType ?? "",
            ["sequence"] = quarantined.Sequence.ToString(CultureInfo.InvariantCulture),
            ["writer"] = quarantined.Writer,
            ["file"] = Path.GetFileName(quarantined.Path),
        }), admitted: true);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_shipper is null)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.DrainTimeout);
        try
        {
            await _shipper.DrainAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            var pending = sink.Spool.DurableSequence - sink.Spool.AckedSequence;
            if (sink.Spool.SegmentFilesGone())
            {
                // The spool directory was removed or replaced while the edge ran: the records are only in files this
                // process still holds open. Before, 1504 said they stay in the spool.
                Log.DrainIncompleteSpoolGone(logger, pending, sink.Spool.Directory);
            }
            else
            {
                // What is left stays durable in the spool and is shipped after the next start.
                Log.DrainIncomplete(logger, pending);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_shipper is not null)
        {
            await _shipper.DisposeAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1504, LogLevel.Warning, "Shutdown before the audit writer acknowledged {Pending} spooled records; they stay in the spool")]
        public static partial void DrainIncomplete(ILogger logger, long pending);

        [LoggerMessage(1547, LogLevel.Error, "Shutdown before the audit writer acknowledged {Pending} spooled records, and the audit spool directory {Directory} no longer holds them: it was removed or replaced while the edge ran, so these records are lost when this process exits and the writer's log will not have them. Count them as lost, find what removed the directory and keep Edge:Audit:SpoolPath out of its reach; the next start creates an empty spool there")]
        public static partial void DrainIncompleteSpoolGone(ILogger logger, long pending, string directory);
    }
}
