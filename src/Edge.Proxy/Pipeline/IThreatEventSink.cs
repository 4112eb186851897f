namespace Edge.Proxy.Pipeline;

/// <summary>Receives ban changes, e.g. to write them to the audit trail (as <c>IConfigEventSink</c> does for config events).</summary>
internal interface IThreatEventSink
{
    /// <summary>A ban began; <paramref name="rule"/> is null for a ban added on the management port.</summary>
    void Banned(string key, string? rule, DateTimeOffset until, string reason, string by);

    void Unbanned(string key, string by);
}
