using System.Globalization;
using Edge.Audit.Records;
using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// A response the backend broke off mid-body, or the client left before its end, becomes a record of its own: the
/// request's record was made durable when the response started, before the break, so it says the status the client got
/// but not that the body was cut short.
/// </summary>
internal sealed class ResponseAuditEventSink(SecurityEventWriter events) : IResponseEventSink
{
    public const string ReasonCode = "backend_response_incomplete";

    /// <summary>The reason when the client went away mid-body: the backend's answer was fine, the client did not take all of it.</summary>
    public const string ClientAbortedReasonCode = "client_aborted";

    public void Incomplete(EdgeRequestFeature request, int status, string error, bool byClient)
    {
        if (!events.IsConfigured)
        {
            return;
        }

        var record = events.NewRecord(AuditEventTypes.ResponseIncomplete, "incomplete", EdgeRequestMiddleware.EdgeStepName,
            byClient ? ClientAbortedReasonCode : ReasonCode,
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
