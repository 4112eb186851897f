using System.Globalization;
using Edge.Audit.Records;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// A response the backend broke off mid-body, or whose client's side ended before it (the client left, the shutdown's
/// drain window ended, Kestrel gave up on a client reading too slowly), becomes a record of its own: the
/// request's record was made durable when the response started, before the break, so it says the status the client got
/// but not that the body was cut short. So does the end of an upgraded connection's relay, for the same reason: its
/// request's record says the switch, with no byte of what was relayed after it.
/// Both are kept past the spool's cap exactly when their request's record was (<see cref="EdgeRequestFeature.RecordAdmitted"/>):
/// they complete a record the trail already holds, and a long-lived tunnel or stream outlasts the moment the cap was
/// checked, when its client could still be refused.
/// </summary>
internal sealed class ResponseAuditEventSink(SecurityEventWriter events) : IResponseEventSink
{
    public const string ReasonCode = "backend_response_incomplete";

    public void Incomplete(EdgeRequestFeature request, int status, string error, string? clientSideReason)
    {
        if (!events.IsConfigured)
        {
            return;
        }

        var record = events.NewRecord(AuditEventTypes.ResponseIncomplete, "incomplete", EdgeRequestMiddleware.EdgeStepName,
            clientSideReason ?? ReasonCode,
            new Dictionary<string, string>
            {
                ["requestId"] = request.RequestId,
                ["route"] = request.RouteId ?? "",
                ["status"] = status.ToString(CultureInfo.InvariantCulture),
                ["error"] = error,
            });
        events.Append(record with { Route = request.RouteId }, admitted: request.RecordAdmitted);
    }

    public ValueTask TunnelClosedAsync(HttpContext context, EdgeRequestFeature request, TunnelEnd end)
    {
        if (!events.IsConfigured)
        {
            return ValueTask.CompletedTask;
        }

        var attributes = new Dictionary<string, string>
        {
            ["requestId"] = request.RequestId,
            ["route"] = request.RouteId ?? "",
            ["durationMs"] = ((long)end.Duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
        };
        if (end.Error is { } error)
        {
            attributes["error"] = error;
        }

        var record = events.NewRecord(AuditEventTypes.TunnelClosed, "closed", EdgeRequestMiddleware.EdgeStepName, end.Reason, attributes);
        return events.AppendAsync(record with
        {
            Route = request.RouteId,
            Tenant = context.GetTenant()?.Tenant,
            // Personal, as in the request's record: in the subject, which the writer seals per principal.
            Subject = context.GetIdentity()?.Principal is { } principal ? new AuditSubject { Principal = principal } : AuditSubject.Empty,
            BytesIn = end.BytesFromClient,
            BytesOut = end.BytesToClient,
        }, admitted: request.RecordAdmitted);
    }
}
