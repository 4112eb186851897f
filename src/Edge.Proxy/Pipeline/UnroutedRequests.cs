using Edge.Proxy.Observability;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Answers a proxy-port request that no route takes (404 <c>not_found</c>, or 405 when a route has the path but not the
/// method) like every other refusal of the edge: a request id the client sees, an audit record with no route, step
/// <see cref="EdgeRequestMiddleware.EdgeStepName"/> and the reason code, the request metric, and the ban rules (a banned
/// client gets its 403 here too; a 404 counts as the <c>NotFound</c> event). Path scanners and probes are what a security
/// edge's trail is read for. The record is best effort: no route asks for it, so a full spool drops it (counted)
/// instead of aborting the answer.
/// </summary>
internal sealed partial class UnroutedRequests(
    ClientAddressResolver clientAddresses, EdgeDecisions decisions, IEdgeThreatGate threat, EdgeMetrics metrics, IAuditSink audit, TimeProvider time, ILogger<UnroutedRequests> logger)
{
    public const string NotFoundCode = "not_found";

    // While the table cannot be built every request of every client throws: a line with its stack trace each was a
    // flood anyone could drive.
    private readonly LogWindow _routingFailedLog = new(TimeSpan.FromMinutes(1));

    public static readonly EdgeDenial NotFound = new(StatusCodes.Status404NotFound, NotFoundCode, "Not found", "No route of this edge matches the request.");

    // ASP.NET Core builds its route table on the first request after a change, and a value it cannot use throws there,
    // before any endpoint runs: that was an empty 500 with no record. proxy.json validation refuses the values known to
    // do this; this is the answer for any other.
    private static readonly EdgeDenial RoutingFailed = new(StatusCodes.Status500InternalServerError, "edge_routing_error", "Routing failed",
        "The edge could not match the request to a route; the edge's log has the cause.");

    /// <summary>
    /// Answers a request whose routing threw (logged as event 1004, at most once a minute); on the proxy port audited like a refusal without a
    /// route, on the management port (the operators' port, never audited) only answered.
    /// </summary>
    public Task RoutingFailedAsync(HttpContext context, Exception exception, bool audited)
    {
        if (_routingFailedLog.TryTake(time, out var unlogged))
        {
            Log.RoutingFailed(logger, unlogged, exception);
        }

        return audited ? AnswerAsync(context, RoutingFailed) : ProblemDetailsWriter.WriteAsync(context, RoutingFailed);
    }

    public Task AnswerAsync(HttpContext context, EdgeDenial denial)
    {
        var request = Begin(context);
        var (step, refusal) = Gate(context, request, threat) ?? (EdgeRequestMiddleware.EdgeStepName, denial);
        return DenyAsync(context, request, step, refusal);
    }

    /// <summary>
    /// The same gate for an answer the edge serves itself without a route (the approver page's files): true when the
    /// request was refused, answered and recorded as <see cref="AnswerAsync"/> does; false when it may be served, and
    /// then nothing is recorded. Before, those files were served to a banned client, the one answer of the edge it still got.
    /// </summary>
    public async Task<bool> RefusedAsync(HttpContext context)
    {
        var request = Begin(context);
        if (Gate(context, request, threat) is not var (step, refusal))
        {
            return false;
        }

        await DenyAsync(context, request, step, refusal);
        return true;
    }

    /// <summary>
    /// Gives a proxy-port request that no YARP route takes its edge state: a request id (header, problem+json, record)
    /// and the client address. <paramref name="routeId"/> names the edge's own endpoint (the approvals API) in the record,
    /// metrics and ban keys; null for a request nothing takes.
    /// </summary>
    public EdgeRequestFeature Begin(HttpContext context, string? routeId = null)
    {
        var startedAt = time.GetUtcNow();
        var request = new EdgeRequestFeature
        {
            RequestId = RequestIds.NewId(startedAt),
            RouteId = routeId,
            StartedAt = startedAt,
            ClientIp = ClientAddressResolver.Format(context, clientAddresses.Resolve(context)),
        };
        context.SetFeature(request);
        context.TraceIdentifier = request.RequestId;
        context.Response.Headers[EdgeRequestMiddleware.RequestIdHeader] = request.RequestId;
        return request;
    }

    /// <summary>
    /// What every answer of the proxy port that no route's pipeline gives (an unrouted path, the approver page, the
    /// approvals API) checks first: framing, header values, then bans. Refused for its framing first, as on a route: the
    /// answer and the record say what was wrong with it.
    /// </summary>
    internal static (string Step, EdgeDenial Denial)? Gate(HttpContext context, EdgeRequestFeature request, IEdgeThreatGate threat)
    {
        if (RequestFraming.Check(context.Request) is { } framing)
        {
            return (EdgeRequestMiddleware.EdgeStepName, framing);
        }

        if (HeaderValues.Check(context.Request.Headers) is { } header)
        {
            return (EdgeRequestMiddleware.EdgeStepName, header);
        }

        return threat.CheckBeforeSteps(context, request) is { } blocked ? (IEdgeThreatGate.StepName, blocked) : null;
    }

    private Task DenyAsync(HttpContext context, EdgeRequestFeature request, string step, EdgeDenial denial) =>
        AnswerRecordedAsync(context, request, () => decisions.DenyAsync(context, step, denial));

    /// <summary>
    /// Runs <paramref name="answer"/> (which decides through <see cref="EdgeDecisions"/>) and records what the client got
    /// as one request record: when the response starts, or at the end when it never started. The same record, sink and
    /// request metric as a routed request's (<see cref="EdgeRequestMiddleware"/>), best effort like every record here.
    /// </summary>
    public async Task AnswerRecordedAsync(HttpContext context, EdgeRequestFeature request, Func<Task> answer)
    {
        request.BindRecording(context, audit);
        context.Response.OnStarting(static state => ((EdgeRequestFeature)state).RecordOnceAsync(), request);
        try
        {
            await answer();
        }
        finally
        {
            metrics.Request(request.RouteId ?? "", request.IsDenied ? "deny" : "allow", context.Response.StatusCode);
            await request.RecordOnceAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1004, LogLevel.Error, "Routing a request failed; answered 500 edge_routing_error; {Unlogged} more failed since the previous such line (at most one a minute)")]
        public static partial void RoutingFailed(ILogger logger, long unlogged, Exception exception);
    }
}
