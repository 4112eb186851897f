using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Microsoft.Extensions.Options;

namespace Edge.Proxy.Auditing;

/// <summary>Config applied/refused are security events: each one becomes an audit record in the spool.</summary>
internal sealed partial class ConfigAuditEventSink(
    IServiceProvider services, IOptions<EdgeAuditOptions> options, EdgeHostOptions host, TimeProvider time, ILogger<ConfigAuditEventSink> logger)
    : IConfigEventSink
{
    public void ConfigApplied(string revisionId, string contentHash) =>
        Record(AuditEventTypes.ConfigApplied, "applied", null,
            new Dictionary<string, string> { ["revision"] = revisionId, ["contentHash"] = contentHash });

    public void ConfigRefused(IReadOnlyList<ConfigError> errors)
    {
        var first = errors.FirstOrDefault(e => !e.IsWarning) ?? errors.FirstOrDefault();
        Record(AuditEventTypes.ConfigRefused, "refused", "config_invalid", new Dictionary<string, string>
        {
            ["errors"] = errors.Count(e => !e.IsWarning).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["firstLocation"] = first?.Location ?? "",
        });
    }

    private void Record(string type, string decision, string? reason, Dictionary<string, string> attributes)
    {
        if (string.IsNullOrEmpty(options.Value.WriterUrl))
        {
            return;
        }

        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Type = type,
            Time = time.GetUtcNow(),
            Instance = host.InstanceId,
            Decision = decision,
            Step = "config",
            Reason = reason,
            Attributes = attributes,
        };
        var spool = services.GetRequiredService<SpoolAuditSink>().Spool;
        // Rare and off the request path: waiting for the fsync here keeps the event as durable as a request record.
        if (!spool.TryAppendAsync(AuditRecordSerializer.Serialize(record)).GetAwaiter().GetResult())
        {
            spool.Metrics.AddDropped();
            Log.Dropped(logger, type);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Audit record for security event {Type} dropped: the spool is at its cap")]
        public static partial void Dropped(ILogger logger, string type);
    }
}
