using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Auditing;

/// <summary>The audit record of one decision, the same for the spool (writer configured) and the local file (no writer).</summary>
internal static class DecisionRecords
{
    public static AuditRecord Build(HttpContext context, EdgeRequestFeature request, EdgeHostOptions host, TimeProvider time)
    {
        var proxy = context.Features.Get<IReverseProxyFeature>();
        var status = context.Response.StatusCode;
        var identity = context.GetIdentity();
        var body = context.GetBody();
        var signature = context.Features.Get<EdgeSignatureFeature>();
        var rateLimit = context.Features.Get<EdgeRateLimitFeature>();
        return new AuditRecord
        {
            Id = request.RequestId,
            Time = request.StartedAt,
            Instance = host.InstanceId,
            Tenant = context.GetTenant()?.Tenant,
            Subject = new AuditSubject { Principal = identity?.Principal, ClientIp = request.ClientIp },
            AuthMethod = identity?.Method,
            Route = request.RouteId,
            Destination = proxy?.ProxiedDestination?.Model.Config.Address,
            Method = context.Request.Method,
            Path = context.Request.Path.Value,
            Status = status,
            Decision = request.IsDenied ? "deny" : "allow",
            Step = request.DecidingStep,
            Reason = request.ReasonCode,
            RateLimit = rateLimit?.Outcome,
            RateLimitFallback = rateLimit?.FallbackReason,
            SignatureScheme = signature?.Scheme,
            SignatureResult = signature?.Result,
            BytesIn = body?.Body.Length ?? context.Request.ContentLength,
            BytesOut = context.Response.ContentLength,
            LatencyMs = (time.GetUtcNow() - request.StartedAt).TotalMilliseconds,
            TraceId = EdgeTraceContext.TraceIdOf(context),
            BodyHash = body is null ? null : BodyHash.Compute(body.Body.Span),
        };
    }
}
