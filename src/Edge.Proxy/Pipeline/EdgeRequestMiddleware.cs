using Edge.Proxy.Auditing;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Serilog.Context;
using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// First middleware of the proxy pipeline: gives the request its id and edge state, removes client-sent identity
/// headers (only the edge may set them), and after the steps and the forwarder have run, records the decision.
/// </summary>
internal sealed class EdgeRequestMiddleware(RequestDelegate next, EdgeHostOptions options, EdgeMetrics metrics, IAuditSink audit, TimeProvider time)
{
    public const string RequestIdHeader = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var routeId = context.GetReverseProxyFeature().Route.Config.RouteId;
        var request = new EdgeRequestContext
        {
            RequestId = Guid.CreateVersion7().ToString("N"),
            RouteId = routeId,
            StartedAt = time.GetUtcNow(),
        };
        context.Features.Set(request);
        context.TraceIdentifier = request.RequestId;

        StripIdentityHeaders(context.Request.Headers, options.IdentityHeaderPrefix);
        // The backend and the client see the same id, and it is the audit record's id.
        context.Request.Headers[RequestIdHeader] = request.RequestId;
        context.Response.Headers[RequestIdHeader] = request.RequestId;

        using (LogContext.PushProperty("RequestId", request.RequestId))
        using (LogContext.PushProperty("Route", routeId))
        {
            if (!audit.CanAdmit(context))
            {
                // An audit-required route never runs unaudited: refuse before any step or backend call.
                metrics.Request(routeId, "deny", StatusCodes.Status503ServiceUnavailable);
                await ProblemDetailsWriter.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "audit_unavailable",
                    "Audit unavailable", "The audit trail cannot record this request right now; retry later.");
                return;
            }

            // The record is made durable when the response starts, so no client sees an answer that is not audited.
            var recorded = 0;
            Task RecordOnce() => Interlocked.Exchange(ref recorded, 1) == 0 ? audit.RecordAsync(context, request).AsTask() : Task.CompletedTask;
            context.Response.OnStarting(RecordOnce);
            try
            {
                await next(context);
            }
            finally
            {
                var decision = request.IsDenied ? "deny" : "allow";
                metrics.Request(routeId, decision, context.Response.StatusCode);
                await RecordOnce();
            }
        }
    }

    private static void StripIdentityHeaders(IHeaderDictionary headers, string prefix)
    {
        List<string>? spoofed = null;
        foreach (var name in headers.Keys)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                (spoofed ??= []).Add(name);
            }
        }

        if (spoofed is null)
        {
            return;
        }

        foreach (var name in spoofed)
        {
            headers.Remove(name);
        }
    }
}
