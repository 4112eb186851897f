namespace Edge.Proxy.Pipeline;

/// <summary>Receives ban changes, e.g. to write them to the audit trail (as <c>IConfigEventSink</c> does for config events).</summary>
internal interface IThreatEventSink
{
    /// <summary>
    /// A ban began; <paramref name="rule"/> is null for a ban added on the management port. <paramref name="subject"/> is
    /// whose ban it is (null when nothing names anyone), so the record can keep the key with that person's data.
    /// </summary>
    void Banned(string key, string? rule, DateTimeOffset until, string reason, string by, BanSubject? subject);

    /// <summary>The <c>by</c> of a running ban the table's cap removed to make room (its record's reason is <c>evicted</c>).</summary>
    public const string EvictedBy = "cap";

    /// <summary>A running ban was lifted; <paramref name="subject"/> is the one its ban record had.</summary>
    void Unbanned(string key, string by, BanSubject? subject);
}
