using Edge.Proxy.Pipeline;

namespace Edge.Proxy.Auditing;

/// <summary>
/// Writes each decision as a structured log event, at Debug so that default levels keep it off the request path. Used
/// when neither an audit writer nor a local file is configured; never contains bodies or secrets.
/// </summary>
internal sealed partial class LoggingAuditSink(ILogger<LoggingAuditSink> logger) : IAuditSink
{
    public ValueTask RecordAsync(HttpContext context, EdgeRequestFeature request)
    {
        Log.Decision(
            logger,
            request.RequestId,
            request.RouteId,
            request.IsDenied ? "deny" : "allow",
            context.Response.StatusCode,
            request.DecidingStep,
            request.ReasonCode,
            context.GetTenant()?.Tenant,
            context.Request.Method,
            context.Request.Path.Value);
        return ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(1500, LogLevel.Debug, "Edge decision {RecordId} route={Route} decision={Decision} status={Status} step={Step} reason={Reason} tenant={Tenant} {Method} {Path}")]
        public static partial void Decision(ILogger logger, string recordId, string? route, string decision, int status, string? step, string? reason, string? tenant, string method, string? path);
    }
}
