using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Edge.Audit.Records;
using Edge.Audit.Spool;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Serialises each decision once into its canonical leaf bytes and appends it to the durable spool; the append
/// completes once the record is written (<c>ProcessCrash</c>) or fsynced (<c>PowerLoss</c>), and the response only
/// starts after that.
/// </summary>
internal sealed partial class SpoolAuditSink : IAuditSink, IAsyncDisposable
{
    // Room kept free for one record when admitting a request on an audit-required route.
    internal const int AdmissionReserve = 16 * 1024;

    /// <summary>
    /// At most one 1501 and one 1503 line in this interval: at the cap, or while spool writes fail, every request no route
    /// takes (any client can send them) lost its record with an Error line of its own, a console write on the request
    /// path for each; the counters have them all.
    /// </summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);

    private readonly LogWindow _droppedLog = new(LogInterval);
    private readonly LogWindow _failedLog = new(LogInterval);

    private readonly EdgeHostOptions _host;
    private readonly TimeProvider _time;
    private readonly ILogger<SpoolAuditSink> _logger;

    public SpoolAuditSink(IOptions<EdgeAuditOptions> options, EdgeHostOptions host, TimeProvider time, IMeterFactory meterFactory, ILogger<SpoolAuditSink> logger)
    {
        _host = host;
        _time = time;
        _logger = logger;
        Spool = AuditSpool.Create(SpoolOptionsOf(options.Value), time, meterFactory);
    }

    internal static SpoolOptions SpoolOptionsOf(EdgeAuditOptions audit) => new()
    {
        Directory = Path.GetFullPath(audit.SpoolPath),
        MaxBytes = audit.SpoolMaxBytes,
        CommitInterval = audit.SpoolCommitInterval,
        Durability = audit.SpoolDurability,
    };

    public AuditSpool Spool { get; }

    public bool CanAdmit(HttpContext context, EdgeRequestFeature request)
    {
        // Room now is room for the record later: requests admitted together near the cap may take the spool past it by
        // their records, rather than be served and then aborted with their records lost.
        if (Spool.HasRoomFor(AdmissionReserve))
        {
            request.RecordAdmitted = true;
            return true;
        }

        return AuditRequirement.IsOptional(context);
    }

    public async ValueTask RecordAsync(HttpContext context, EdgeRequestFeature request)
    {
        var leaf = PooledRecordBytes.Serialize(DecisionRecords.Build(context, request, _host, _time));
        bool appended;
        try
        {
            appended = await Spool.TryAppendAsync(leaf, request.RecordAdmitted);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // UnauthorizedAccessException: a segment the edge may not create (EACCES, a spool directory made read-only
            // for its user). It escaped before, and the client got an empty 500 after the backend had acted.
            if (_failedLog.TryTake(_time, out var unlogged))
            {
                Log.SpoolFailed(_logger, request.RequestId, unlogged, exception);
            }

            appended = false;
        }
        finally
        {
            // The spool is done with the bytes once the append completed (written, or refused).
            PooledRecordBytes.Return(leaf);
        }

        if (appended)
        {
            return;
        }

        if (AuditRequirement.IsOptional(context))
        {
            Spool.Metrics.AddDropped();
            if (_droppedLog.TryTake(_time, out var unlogged))
            {
                Log.Dropped(_logger, request.RequestId, request.RouteId, unlogged);
            }

            return;
        }

        // Admitted, but the spool closed or its writes failed meanwhile: the client must not get an unaudited answer.
        Log.AbortedUnaudited(_logger, request.RequestId, request.RouteId);
        context.Abort();
    }

    /// <summary>Logs what the spool's start found damaged (once, after it started).</summary>
    public void LogRecoveryDamage()
    {
        foreach (var damage in Spool.RecoveryDamage)
        {
            if (damage.Kept)
            {
                Log.DamagedSegmentKept(_logger, damage.Segment, damage.Offset, damage.AfterSequence, damage.Bytes);
            }
            else
            {
                Log.DamagedTailCut(_logger, damage.Segment, damage.Offset, damage.AfterSequence, damage.Bytes);
            }
        }

        foreach (var gap in Spool.RecoveryGaps)
        {
            Log.GapAtStart(_logger, gap.Segment, gap.FoundSequence, gap.ExpectedSequence, gap.FoundSequence - gap.ExpectedSequence);
        }
    }

    /// <summary>
    /// Appends one <see cref="AuditEventTypes.SpoolRecordsLost"/> record per gap the spool's start found, so the writer's
    /// log says which of this edge's sequences it will never hold: the start ships past a gap, and before, only log line
    /// 1543 said so. Kept past the cap (<c>admitted</c>): the loss is known only now, and no request waits for it.
    /// </summary>
    public void RecordRecoveryGaps(SecurityEventWriter events)
    {
        foreach (var gap in Spool.RecoveryGaps)
        {
            events.Append(events.NewRecord(AuditEventTypes.SpoolRecordsLost, "lost", "spool", "spool_gap", new Dictionary<string, string>
            {
                ["segment"] = Path.GetFileName(gap.Segment),
                ["expectedSequence"] = gap.ExpectedSequence.ToString(CultureInfo.InvariantCulture),
                ["foundSequence"] = gap.FoundSequence.ToString(CultureInfo.InvariantCulture),
                ["missing"] = (gap.FoundSequence - gap.ExpectedSequence).ToString(CultureInfo.InvariantCulture),
            }), admitted: true);
        }
    }

    public ValueTask DisposeAsync() => Spool.DisposeAsync();

    private static partial class Log
    {
        [LoggerMessage(1501, LogLevel.Error, "Audit record {RecordId} dropped on optional route {Route}: the spool could not take it (at its cap, or its writes failing); {Unlogged} more dropped since the previous such line (at most one a minute; edge_audit_dropped_total counts them all)")]
        public static partial void Dropped(ILogger logger, string recordId, string? route, long unlogged);

        [LoggerMessage(1502, LogLevel.Error, "Request {RecordId} on audit-required route {Route} aborted: its record could not be spooled")]
        public static partial void AbortedUnaudited(ILogger logger, string recordId, string? route);

        [LoggerMessage(1503, LogLevel.Error, "Writing audit record {RecordId} to the spool failed; {Unlogged} more failed since the previous such line (at most one a minute; edge_audit_spool_write_failures_total counts them all)")]
        public static partial void SpoolFailed(ILogger logger, string recordId, long unlogged, Exception exception);

        [LoggerMessage(1540, LogLevel.Error, "Audit spool segment {Segment} does not read back from offset {Offset} (after sequence {Sequence}) for {Bytes} bytes: they stay in the segment and are skipped, and shipping goes on at the next frame that reads back; the records they held are reported lost (event 1543)")]
        public static partial void DamagedSegmentKept(ILogger logger, string segment, long offset, long sequence, long bytes);

        [LoggerMessage(1541, LogLevel.Warning, "Audit spool segment {Segment} had {Bytes} bytes after sequence {Sequence} (offset {Offset}) that were neither frames nor the zeros a crash leaves; cut as a torn write (records it held are reported lost, event 1543)")]
        public static partial void DamagedTailCut(ILogger logger, string segment, long offset, long sequence, long bytes);

        [LoggerMessage(1543, LogLevel.Error, "Audit spool segment {Segment}: sequence {Expected} was expected, and the next record there is {Found}: the {Missing} records in between are not in the spool (damaged or torn frames, a segment moved out or cut while the edge was stopped, or a power cut); shipping goes on past them")]
        public static partial void GapAtStart(ILogger logger, string segment, long found, long expected, long missing);
    }
}
