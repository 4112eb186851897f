using System.Buffers;
using Edge.Proxy.Configuration;
using Edge.Proxy.Observability;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// First middleware of the proxy pipeline: gives the request its id and edge state, removes client-sent identity
/// headers (only the edge may set them) and untrusted forwarding headers, refuses methods that cannot be forwarded, and
/// after the steps and the forwarder have run, records the decision.
/// </summary>
internal sealed partial class EdgeRequestMiddleware(
    RequestDelegate next,
    EdgeHostOptions options,
    ClientAddressResolver clientAddresses,
    EdgeMetrics metrics,
    EdgeDecisions decisions,
    IEdgeThreatGate threat,
    IAuditSink audit,
    BackendPathRouting backendPaths,
    AllowedHosts allowedHosts,
    IResponseEventSink responseEvents,
    ServerAborts serverAborts,
    TimeProvider time,
    ILogger<EdgeRequestMiddleware> logger)
{
    // YARP logged every failed backend call at Warning with its stack trace (its forwarder categories are off by
    // default, ObservabilityExtensions): a backend down meant one line per client request. The record and
    // edge_requests_total count each; the log says it at most once a minute.
    private readonly LogWindow _backendFailedLog = new(TimeSpan.FromMinutes(1));

    /// <summary>Recorded as the deciding step when the edge itself refuses a request before any configured step.</summary>
    public const string EdgeStepName = "Edge";

    public const string RequestIdHeader = EdgeOwnedHeaders.RequestId;

    /// <summary>The audited reason of an allowed request whose client went away before any answer (status 499).</summary>
    public const string ClientAbortedCode = "client_aborted";

    /// <summary>503: the audit trail cannot record the request (or an approver's decision) now; nothing was done.</summary>
    public const string AuditUnavailableCode = "audit_unavailable";

    private static readonly EdgeDenial AuditUnavailable = new(StatusCodes.Status503ServiceUnavailable, AuditUnavailableCode,
        "Audit unavailable", "The audit trail cannot record this request right now; retry later.");

    public async Task InvokeAsync(HttpContext context)
    {
        var route = context.GetProxyFeature().Route.Config;
        var client = clientAddresses.Resolve(context);
        var startedAt = time.GetUtcNow();
        var request = new EdgeRequestFeature
        {
            RequestId = RequestIds.NewId(startedAt),
            RouteId = route.RouteId,
            StartedAt = startedAt,
            ClientIp = ClientAddressResolver.Format(context, client),
        };
        context.SetFeature(request);
        context.TraceIdentifier = request.RequestId;

        // Forwarding headers: the edge writes these itself (ForwardingHeadersTransform); a direct client's copies are forgeries.
        // URL and method override headers: the backend must act on the request line the edge checked.
        (request.HasUnderscoreHeaderName, var invalidHeaderValue) = StripClientHeaders(context.Request.Headers, options.IdentityHeaderPrefix, stripForwarding: !client.ViaTrustedProxy);

        // The backend and the client see the same id, and it is the audit record's id.
        context.Request.Headers[RequestIdHeader] = request.RequestId;
        context.Response.Headers[RequestIdHeader] = request.RequestId;

        // No per-request log scope: it would cost an AsyncLocal push on every request. Log lines written during a
        // request carry the trace id (Activity), and so does the audit record.
        if (!audit.CanAdmit(context, request))
        {
            // An audit-required route never runs unaudited: refuse before any step or backend call.
            await decisions.DenyAsync(context, EdgeStepName, AuditUnavailable);
            metrics.Request(request.RouteId ?? string.Empty, "deny", StatusCodes.Status503ServiceUnavailable);
            return;
        }

        // The record is made durable when the response starts, so no client sees an answer that is not audited.
        // The state overload with a static callback: no closure or delegate per request.
        request.BindRecording(context, audit);
        context.Response.OnStarting(static state => ((EdgeRequestFeature)state).RecordOnceAsync(), request);
        UpgradeTunnel? tunnel = null;
        try
        {
            // Framing two parsers may read differently is refused before anything reads or forwards the body; one
            // header lookup (Transfer-Encoding) for every other request.
            if (RequestFraming.Check(context.Request) is { } framing)
            {
                await decisions.DenyAsync(context, EdgeStepName, framing);
            }

            // Found by the same pass that stripped the client's identity headers: a value the backend could read differently.
            else if (invalidHeaderValue)
            {
                await decisions.DenyAsync(context, EdgeStepName, HeaderValues.Denial);
            }

            // A banned client is refused before anything else looks at its request (and before the rate limiter
            // spends a Redis call on it): the lookup is in this instance's ban table.
            else if (threat.CheckBeforeSteps(context, request) is { } blocked)
            {
                await decisions.DenyAsync(context, IEdgeThreatGate.StepName, blocked);
            }

            // Only a trusted proxy's X-Forwarded-Host and Forwarded are left: AllowedHosts, checked on Host before routing,
            // covers the hosts they name too.
            else if (client.ViaTrustedProxy && allowedHosts.IsRestricted && !allowedHosts.AllowsClaimedHosts(context.Request))
            {
                await decisions.DenyAsync(context, EdgeStepName, AllowedHosts.NotAllowed);
            }

            // A fragment would reach the backend changed (dropped or escaped): refused rather than rewritten.
            else if (PathPolicy.HasFragment(context))
            {
                await decisions.DenyAsync(context, EdgeStepName, PathPolicy.FragmentDenial);
            }

            // OPTIONS * names no resource: a catch-all route would forward it as OPTIONS /, which the client never sent.
            else if (PathPolicy.IsAsteriskForm(context))
            {
                await decisions.DenyAsync(context, EdgeStepName, PathPolicy.AsteriskFormDenial);
            }

            // A dot segment behind a backslash or an encoded slash, or left in an absolute-form target, could make the backend
            // serve another route's path.
            else if (PathPolicy.HidesDotSegment(context.Request.Path.Value))
            {
                await decisions.DenyAsync(context, EdgeStepName, PathPolicy.Denial);
            }

            // Read as a backend may read it (no path parameters, split at a backslash or %2F), the path must still be this route's.
            else if (backendPaths.ReachesAnotherRoute(context.Request.Path.Value, route))
            {
                await decisions.DenyAsync(context, EdgeStepName, PathPolicy.OtherRouteDenial);
            }

            // POST ?_method=DELETE is a DELETE to Laravel and Symfony, decided here as a POST.
            else if (MethodOverrideParameter.Overrides(context.Request.Method, context.Request.QueryString))
            {
                await decisions.DenyAsync(context, EdgeStepName, MethodOverrideParameter.Denial);
            }

            // HTTP/2 extended CONNECT (RFC 8441) for a WebSocket is a handshake YARP forwards; plain CONNECT, and an
            // extended CONNECT for any other :protocol (YARP would send it on as a plain CONNECT), is not.
            else if (MethodPolicy.IsRefused(context.Request.Method, route) && !IsWebSocketConnect(context))
            {
                await RefuseMethodAsync(context, route);
            }
            else
            {
                tunnel = UpgradeTunnel.TryInstall(context, time);
                BackendResponseFraming.Track(request);
                await next(context);
                if (context.Features[typeof(IForwarderErrorFeature)] is IForwarderErrorFeature { Error: not ForwarderError.None } failure)
                {
                    await OnForwarderFailedAsync(context, request, failure);
                }
            }
        }
        finally
        {
            await FinishAsync(context, request, tunnel);
        }
    }

    /// <summary>
    /// The request's cleanup, then its metric and record whatever the cleanup did, then a tunnel's end. A method of its
    /// own: it usually completes synchronously, and its try/finally and awaiters are then not in the request's state machine.
    /// </summary>
    private async Task FinishAsync(HttpContext context, EdgeRequestFeature request, UpgradeTunnel? tunnel)
    {
        try
        {
            await request.CleanupAsync(context);
        }
        finally
        {
            // A failing cleanup must not cost the request its audit record. A shutdown's abort looks like the
            // client's until here: the record says whose it was.
            serverAborts.ReclassifyUnanswered(context, request);
            var decision = request.IsDenied ? "deny" : "allow";
            metrics.Request(request.RouteId ?? string.Empty, decision, context.Response.StatusCode);
            await request.RecordOnceAsync();
            if (tunnel is { IsOpen: true })
            {
                await responseEvents.TunnelClosedAsync(context, request, tunnel.End(context, serverAborts.DrainEnded));
            }
        }
    }

    /// <summary>
    /// What the client got when the forwarder failed: a problem+json answer, nothing (it went away, or Kestrel reset the
    /// stream), or the status and part of a body. A method of its own so that its locals and awaiters are not in every
    /// request's state machine.
    /// </summary>
    private async Task OnForwarderFailedAsync(HttpContext context, EdgeRequestFeature request, IForwarderErrorFeature failure)
    {
        if (!context.Response.HasStarted)
        {
            if ((context.RequestAborted.IsCancellationRequested || failure.Error is ForwarderError.RequestBodyClient)
                && await KestrelBodyAborts.ClassifyAbortedAsync(context, failure.Exception) is { } aborted)
            {
                // Kestrel reset the stream over the body it was streaming (HTTP/2): the client got no answer,
                // and did not go away either.
                context.Response.StatusCode = aborted.Status;
                context.Response.ContentLength = 0;
                request.AnsweredWith(aborted.Reason);
            }
            else if (context.RequestAborted.IsCancellationRequested
                || (failure.Error is ForwarderError.RequestBodyClient && ClientInputEnded(context, failure.Exception)))
            {
                // The client went away while the backend was called (waiting for its answer, or mid-upload):
                // nothing is sent, so the record must not keep the 400/502 YARP set for an answer nobody gets.
                context.Response.StatusCode = EdgeBodyBufferingTransform.ClientClosedRequest;
                request.AnsweredWith(ClientAbortedCode);
            }
            else
            {
                LogBackendFailure(request.RouteId, failure);
                await WriteForwarderProblemAsync(context, failure.Error, failure.Exception);
            }
        }

        // The record went out with the status when the response started; the break comes after it.
        else if (failure.Error is ForwarderError.ResponseBodyDestination
            || (failure.Error is ForwarderError.ResponseBodyCanceled && !context.RequestAborted.IsCancellationRequested))
        {
            LogBackendFailure(request.RouteId, failure);
            responseEvents.Incomplete(request, context.Response.StatusCode, failure.Error.ToString(), clientSideReason: null);
        }

        // The client left mid-body (a cancelled download, a closed event stream), or the edge ended its
        // connection (shutdown, a reader slower than MinResponseDataRate): it got the status and part of the
        // body, which the request's record (its bytesOut is the declared length) cannot say.
        else if (failure.Error is ForwarderError.ResponseBodyClient or ForwarderError.ResponseBodyCanceled)
        {
            responseEvents.Incomplete(request, context.Response.StatusCode, failure.Error.ToString(), serverAborts.IncompleteReason(context));
        }
    }

    private void LogBackendFailure(string? routeId, IForwarderErrorFeature failure)
    {
        if (logger.IsEnabled(LogLevel.Warning) && _backendFailedLog.TryTake(time, out var unlogged))
        {
            Log.BackendFailed(logger, routeId, failure.Error.ToString(), unlogged, failure.Exception);
        }
    }

    /// <summary>
    /// YARP answers a backend it could not reach (or a request it could not send) with a bare status; the client gets
    /// the same status as problem+json, like every other answer of the edge.
    /// </summary>
    private static Task WriteForwarderProblemAsync(HttpContext context, ForwarderError error, Exception? exception)
    {
        var status = context.Response.StatusCode;
        if (context.RequestAborted.IsCancellationRequested || status < StatusCodes.Status400BadRequest)
        {
            return Task.CompletedTask;
        }

        // The client's own body (over Kestrel's request body limit, or broken) is the client's fault, not the backend's.
        var (code, title, detail) = (error, status) switch
        {
            (ForwarderError.RequestBodyClient, StatusCodes.Status413PayloadTooLarge) =>
                ("body_too_large", "Body too large", "The request body exceeds the edge's request body limit."),
            // Kestrel's MinRequestBodyDataRate, as on a body-buffering route.
            (ForwarderError.RequestBodyClient, StatusCodes.Status408RequestTimeout) =>
                (EdgeBodyBufferingTransform.BodyTimeoutCode, "Body timeout", "The request body arrived too slowly."),
            (ForwarderError.RequestBodyClient, _) => ("body_invalid", "Body invalid", "The request body could not be read from the client."),
            (_, StatusCodes.Status504GatewayTimeout) => ("backend_timeout", "Backend timeout", "The backend did not answer in time."),
            // The backend answered, with a header the edge cannot send on (a control character in its value), or with
            // something that is not an HTTP response (a bad status line or header name, a head over HttpClient's limit).
            (ForwarderError.ResponseHeaders, _) => BackendResponseInvalid,
            (ForwarderError.Request, _) when exception is HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.ConfigurationLimitExceeded } =>
                BackendResponseInvalid,
            _ => ("backend_unavailable", "Backend unavailable", "The backend could not be reached or did not answer."),
        };

        if (context.GetEdgeRequest() is { } request)
        {
            // YARP clears the response's headers on a client-body error, the request id with them; the answer still names its record.
            context.Response.Headers[RequestIdHeader] = request.RequestId;
            // The record says which answer the client got, not only its status; the decision stays the steps' (allow).
            request.AnsweredWith(code);
        }

        return ProblemDetailsWriter.WriteAsync(context, status, code, title, detail);
    }

    private static readonly (string Code, string Title, string Detail) BackendResponseInvalid =
        ("backend_response_invalid", "Backend response invalid", "The backend's response could not be passed on.");

    /// <summary>
    /// Whether the streamed body failed because the client's connection ended mid-body (Kestrel closes it then, and says
    /// so before <c>RequestAborted</c> fires). YARP may report the body's error inside an <see cref="AggregateException"/>
    /// with the send's.
    /// </summary>
    private static bool ClientInputEnded(HttpContext context, Exception? exception)
    {
        if (exception is AggregateException all)
        {
            foreach (var inner in all.InnerExceptions)
            {
                if (ClientInputEnded(context, inner))
                {
                    return true;
                }
            }

            return false;
        }

        return exception is not null
            && (EdgeBodyBufferingTransform.IsClientGone(context, exception) || ClientInputEnded(context, exception.InnerException));
    }

    private static bool IsWebSocketConnect(HttpContext context) =>
        context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect
        && string.Equals(connect.Protocol, WebSocketProtocol, StringComparison.OrdinalIgnoreCase);

    private const string WebSocketProtocol = "websocket";

    private Task RefuseMethodAsync(HttpContext context, RouteConfig route) =>
        decisions.DenyAsync(context, EdgeStepName, new EdgeDenial(StatusCodes.Status405MethodNotAllowed, MethodPolicy.ReasonCode,
            "Method not allowed", $"The edge does not forward {context.Request.Method} requests on this route.")
        {
            Headers = new Dictionary<string, string> { ["Allow"] = MethodPolicy.AllowHeader(route) },
        });

    /// <summary>
    /// Removes the headers only the edge may set (forwarding headers in their '_' spelling even from a trusted proxy);
    /// returns whether any client header name contains '_' and whether any value is not <see cref="HeaderValues.AreValid"/>.
    /// </summary>
    private static (bool Underscore, bool InvalidValue) StripClientHeaders(IHeaderDictionary headers, string identityPrefix, bool stripForwarding)
    {
        // One pass over the pairs: Kestrel's IHeaderDictionary.Keys builds a HashSet of every name on each call. Copied
        // into a pooled array rather than enumerated: Kestrel keeps one enumerator object per request, which YARP's header
        // copy takes, so a second foreach over the interface allocates one (about 70-100 bytes) on every request.
        var count = headers.Count;
        var pairs = ArrayPool<KeyValuePair<string, StringValues>>.Shared.Rent(count);
        try
        {
            headers.CopyTo(pairs, 0);
            return StripClientHeaders(headers, pairs.AsSpan(0, count), identityPrefix, stripForwarding);
        }
        finally
        {
            // The pool must not keep this request's header values alive.
            Array.Clear(pairs, 0, count);
            ArrayPool<KeyValuePair<string, StringValues>>.Shared.Return(pairs);
        }
    }

    private static (bool Underscore, bool InvalidValue) StripClientHeaders(
        IHeaderDictionary headers, ReadOnlySpan<KeyValuePair<string, StringValues>> pairs, string identityPrefix, bool stripForwarding)
    {
        List<string>? spoofed = null;
        var underscore = false;
        var invalidValue = false;
        foreach (var header in pairs)
        {
            var hasUnderscore = header.Key.Contains('_', StringComparison.Ordinal);
            underscore |= hasUnderscore;
            invalidValue |= !HeaderValues.AreValid(header.Value);
            // '_' counts as '-': backends that map X_Edge_Tenant to X-Edge-Tenant (CGI, some nginx setups) must not see it.
            // X_Request_Id too: the edge sets X-Request-Id (signed into the identity headers), and a CGI-style backend
            // reads both spellings as HTTP_X_REQUEST_ID, so the client's copy could stand in for the edge's.
            // A trusted proxy writes the '-' spelling; a '_' one it passed on is the original client's, and would sit
            // beside the edge's X-Real-IP or X-Forwarded-For under the backend's one variable name.
            if (HeaderName.StartsWith(header.Key, identityPrefix)
                || ((stripForwarding || hasUnderscore) && ForwardingHeaders.IsForwardingHeader(header.Key))
                || RoutingOverrideHeaders.IsRoutingOverride(header.Key)
                || HeaderName.EqualsName(header.Key, RequestIdHeader))
            {
                (spoofed ??= []).Add(header.Key);
            }
        }

        if (spoofed is null)
        {
            return (underscore, invalidValue);
        }

        foreach (var name in spoofed)
        {
            headers.Remove(name);
        }

        return (underscore, invalidValue);
    }

    private static partial class Log
    {
        [LoggerMessage(1005, LogLevel.Warning, "Forwarding on route {Route} failed ({Error}); {Unlogged} more failed since the previous such line (at most one a minute; edge_requests_total and the audit records count them all)")]
        public static partial void BackendFailed(ILogger logger, string? route, string error, long unlogged, Exception? exception);
    }
}
