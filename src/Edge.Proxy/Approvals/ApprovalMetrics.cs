using Edge.Proxy.Pipeline;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Edge.Proxy.Observability;

namespace Edge.Proxy.Approvals;

/// <summary>
/// Approval instruments on the edge meter: <c>edge_approval_events_total{policy,event}</c> (one per audited approval
/// event), <c>edge_approval_refusals_unrecorded_total{policy}</c> (refused decisions past a caller's limit) and
/// <c>edge_approval_notifications_total{policy,result}</c> (<c>delivered</c>, <c>failed</c>, <c>dropped</c>).
/// </summary>
internal sealed class ApprovalMetrics(EdgeMetrics metrics)
{
    private readonly Counter<long> _events = metrics.Meter.CreateCounter<long>(
        "edge.approval.events", description: "Approval events (requested, approved, rejected, consumed, expired, invalid, mismatch, refused) by policy.");

    private readonly Counter<long> _refusalsUnrecorded = metrics.Meter.CreateCounter<long>(
        "edge.approval.refusals.unrecorded", description: "Refused approval decisions answered 429 past a caller's recorded refusals per minute, counted here instead of recorded.");

    private readonly Counter<long> _notifications = metrics.Meter.CreateCounter<long>(
        "edge.approval.notifications", description: "Approval Notify deliveries by policy and result (delivered, failed, dropped).");

    public void Event(string? policy, ApprovalEventKind kind)
    {
        if (_events.Enabled)
        {
            _events.Add(1, new TagList { { "policy", policy ?? "" }, { "event", EventTag(kind) } });
        }
    }

    public void RefusalUnrecorded(string? policy)
    {
        if (_refusalsUnrecorded.Enabled)
        {
            _refusalsUnrecorded.Add(1, new TagList { { "policy", policy ?? "" } });
        }
    }

    public void Notification(string policy, string result)
    {
        if (_notifications.Enabled)
        {
            _notifications.Add(1, new TagList { { "policy", policy }, { "result", result } });
        }
    }

    public static string EventTag(ApprovalEventKind kind) => kind switch
    {
        ApprovalEventKind.Requested => "requested",
        ApprovalEventKind.Approved => "approved",
        ApprovalEventKind.Rejected => "rejected",
        ApprovalEventKind.Consumed => "consumed",
        ApprovalEventKind.Expired => "expired",
        ApprovalEventKind.Invalid => "invalid",
        ApprovalEventKind.Refused => "refused",
        _ => "mismatch",
    };
}

/// <summary>What the step and the API report an approval event to: counted here, audited by the sink.</summary>
internal sealed class ApprovalEvents(IApprovalEventSink sink, ApprovalMetrics metrics)
{
    public bool CanRecord => sink.CanRecord;

    /// <summary>A refusal past the caller's limit: counted, not recorded.</summary>
    public void Unrecorded(string? policy) => metrics.RefusalUnrecorded(policy);

    public ValueTask RecordAsync(ApprovalEvent approvalEvent)
    {
        metrics.Event(approvalEvent.Policy, approvalEvent.Kind);
        return sink.RecordAsync(approvalEvent);
    }
}
