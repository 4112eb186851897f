using Edge.Audit.Records;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Edge.Proxy.Pipeline;
using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Auditing;

/// <summary>The audit record of one decision, the same for the spool (writer configured) and the local file (no writer).</summary>
/// <remarks>
/// The fields are read straight from the request's features into a value the serialiser takes by reference: a
/// decision allocates no <see cref="AuditRecord"/> or <see cref="AuditSubject"/> (about 250 bytes per request).
/// </remarks>
internal static class DecisionRecords
{
    public static AuditRecordFields Build(HttpContext context, EdgeRequestFeature request, EdgeHostOptions host, TimeProvider time)
    {
        var proxy = context.GetFeature<IReverseProxyFeature>();
        var status = context.Response.StatusCode;
        var identity = context.GetIdentity();
        var body = context.GetBody();
        var signature = context.GetFeature<EdgeSignatureFeature>();
        var rateLimit = context.GetFeature<EdgeRateLimitFeature>();
        return new AuditRecordFields
        {
            Id = request.RequestId,
            Type = AuditEventTypes.Request,
            Time = request.StartedAt,
            Instance = host.InstanceId,
            Tenant = context.GetTenant()?.Tenant,
            Principal = identity?.Principal,
            ClientIp = request.ClientIp,
            AuthMethod = identity?.Method,
            Route = request.RouteId,
            // YARP picks the destination before it runs the transforms the steps deny in: a denied request never went there.
            Destination = request.IsDenied ? null : proxy?.ProxiedDestination?.Model.Config.Address,
            // Empty for a request line Kestrel could not parse (ParserRejections): no method, rather than "".
            Method = context.Request.Method is { Length: > 0 } method ? method : null,
            // The connection's scheme (https where Kestrel terminated TLS), never a client's X-Forwarded-Proto.
            Scheme = context.Request.Scheme,
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
            BytesOut = SendsNoContent(context, status) ? 0 : context.Response.ContentLength,
            LatencyMs = (time.GetUtcNow() - request.StartedAt).TotalMilliseconds,
            TraceId = EdgeTraceContext.TraceIdOf(context),
            BodyHash = body is null ? null : BodyHash.Compute(body.Body.Span),
        };
    }

    /// <summary>
    /// A response whose Content-Length describes a body it does not carry: a HEAD request's (the GET's length), a 304's
    /// (the representation's) and a 1xx, 204 or 205 (none). The record says what the client got: no content bytes.
    /// </summary>
    private static bool SendsNoContent(HttpContext context, int status) =>
        status is < StatusCodes.Status200OK or StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified
        || HttpMethods.IsHead(context.Request.Method);
}
