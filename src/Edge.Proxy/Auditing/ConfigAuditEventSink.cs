using Edge.Audit.Records;
using Edge.Proxy.Configuration;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Config applied/refused and secret or key rotations are security events: each one becomes an audit record in the spool,
/// or in the local NDJSON file without a writer (see <see cref="SecurityEventWriter"/>). A
/// reload never waits for the append: the record is enqueued in order like any request record.
/// </summary>
internal sealed partial class ConfigAuditEventSink(
    SecurityEventWriter events,
    SecretRotationDetector rotations,
    ILogger<ConfigAuditEventSink> logger)
    : IConfigEventSink
{
    public void ConfigApplied(string revisionId, string contentHash, EdgeSection? previous, EdgeSection current)
    {
        Record(AuditEventTypes.ConfigApplied, "applied", null,
            new Dictionary<string, string> { ["revision"] = revisionId, ["contentHash"] = contentHash });
        foreach (var rotation in rotations.Detect(previous, current))
        {
            Log.SecretRotated(logger, rotation.Kind, rotation.Policy, rotation.Added, rotation.Removed, rotation.ValueChanged, revisionId);
            Record(AuditEventTypes.KeyRotated, "rotated", rotation.Kind, RotationAttributes(rotation, revisionId));
        }
    }

    public void ConfigRefused(IReadOnlyList<ConfigError> errors)
    {
        var first = errors.FirstOrDefault(e => !e.IsWarning) ?? errors.FirstOrDefault();
        Record(AuditEventTypes.ConfigRefused, "refused", "config_invalid", new Dictionary<string, string>
        {
            ["errors"] = errors.Count(e => !e.IsWarning).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["firstLocation"] = first?.Location ?? "",
        });
    }

    private static Dictionary<string, string> RotationAttributes(SecretRotation rotation, string revisionId)
    {
        var attributes = new Dictionary<string, string>
        {
            ["kind"] = rotation.Kind,
            ["policy"] = rotation.Policy,
            ["revision"] = revisionId,
            ["added"] = rotation.Added.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["removed"] = rotation.Removed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["valueChanged"] = rotation.ValueChanged.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (rotation.Kind == SecretRotationKinds.ApiKey)
        {
            attributes["addedKeys"] = string.Join(',', rotation.AddedKeyPrefixes);
            attributes["removedKeys"] = string.Join(',', rotation.RemovedKeyPrefixes);
        }

        return attributes;
    }

    private void Record(string type, string decision, string? reason, Dictionary<string, string> attributes)
    {
        if (!events.IsConfigured)
        {
            return;
        }

        events.Append(events.NewRecord(type, decision, "config", reason, attributes));
    }

    private static partial class Log
    {
        [LoggerMessage(1506, LogLevel.Information, "Config revision {Revision} rotates {Kind} of policy '{Policy}': {Added} added, {Removed} removed, {ValueChanged} values changed")]
        public static partial void SecretRotated(ILogger logger, string kind, string policy, int added, int removed, int valueChanged, string revision);
    }
}
