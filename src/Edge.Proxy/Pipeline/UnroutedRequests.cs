using Edge.Proxy.Observability;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Answers a proxy-port request that no route takes (404 <c>not_found</c>, or 405 when a route has the path but not the
/// method) and audits it like every other answer of the edge: a request id the client sees, a record with no route,
/// step <see cref="EdgeRequestMiddleware.EdgeStepName"/> and the reason code, and the request metric. Path scanners and
/// probes are what a security edge's trail is read for. The record is best effort: no route asks for it, so a full
/// spool drops it (counted) instead of aborting the answer.
/// </summary>
internal sealed class UnroutedRequests(ClientAddressResolver clientAddresses, EdgeMetrics metrics, IAuditSink audit, TimeProvider time)
{
    public const string NotFoundCode = "not_found";

    public async Task AnswerAsync(HttpContext context, int status, string code, string title, string detail)
    {
        var startedAt = time.GetUtcNow();
        var request = new EdgeRequestFeature
        {
            RequestId = RequestIds.NewId(startedAt),
            RouteId = null,
            StartedAt = startedAt,
            ClientIp = ClientAddressResolver.Format(context, clientAddresses.Resolve(context)),
        };
        context.SetFeature(request);
        context.TraceIdentifier = request.RequestId;
        context.Response.Headers[EdgeRequestMiddleware.RequestIdHeader] = request.RequestId;
        request.Deny(EdgeRequestMiddleware.EdgeStepName, code);
        request.BindRecording(context, audit);
        context.Response.OnStarting(static state => ((EdgeRequestFeature)state).RecordOnceAsync(), request);
        try
        {
            await ProblemDetailsWriter.WriteAsync(context, status, code, title, detail);
        }
        finally
        {
            metrics.Request("", "deny", context.Response.StatusCode);
            await request.RecordOnceAsync();
        }
    }
}
