using System.Globalization;
using Edge.Audit.Records;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// A response the backend broke off mid-body, or whose client's side ended before it (the client left, the shutdown's
/// drain window ended, Kestrel gave up on a client reading too slowly), becomes a record of its own: the
/// request's record was made durable when the response started, before the break, so it says the status the client got
/// but not that the body was cut short.
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
        events.Append(record with { Route = request.RouteId });
    }
}
