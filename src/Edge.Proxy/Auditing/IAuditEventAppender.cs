namespace Edge.Proxy.Auditing;

/// <summary>
/// Where security events (config, threat, approval) go as audit records: the durable spool when a writer is configured,
/// the local NDJSON file otherwise. The event sinks build the record once and stay unaware of which of the two it is, so
/// events and decision records always land in the same place in the same canonical format.
/// </summary>
internal interface IAuditEventAppender
{
    /// <summary>
    /// Appends one serialised record; false when it was refused because the target is full. <paramref name="admitted"/>:
    /// the caller found room (<see cref="HasRoomForEvent"/>, or the admission check of the request the record completes)
    /// before it acted, so the record is kept even past the cap.
    /// </summary>
    ValueTask<bool> TryAppendAsync(byte[] record, bool admitted = false);

    /// <summary>
    /// Whether a record of an event that must not happen unrecorded (an approver's decision) fits now: the spool keeps
    /// the reserve it keeps for an audit-required route's request. The local file queues without such a check.
    /// </summary>
    bool HasRoomForEvent => true;

    /// <summary>Counts a refused record, where the target counts drops and <see cref="TryAppendAsync"/> did not count it already.</summary>
    void RecordDropped();
}
