using Edge.Proxy.Observability;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Runs one edge step as a YARP request transform. YARP runs every request transform in order and only then checks
/// whether a response was set, so a step after a denial must not run. After a step lets a request through, ban rules
/// keyed on what it found (a tenant, a principal) are checked before the next step runs.
/// </summary>
/// <param name="failedLog">
/// Event 1001's window, one per step name (<see cref="EdgeStepTransformFactory"/>): a step that throws on every request
/// wrote an Error line with its stack trace per request. The audit record and the step-decision metric still count each.
/// </param>
internal sealed partial class EdgeStepTransform(
    string stepName, IEdgeStep step, EdgeDecisions decisions, IEdgeThreatGate threat, LogWindow failedLog, TimeProvider time, ILogger logger) : RequestTransform
{
    private static readonly EdgeDenial PipelineMisconfigured =
        new(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "The edge pipeline is misconfigured.");

    // A step that throws is the edge's fault (unless the client left meanwhile). Left to YARP, it became 502
    // backend_unavailable with the decision allow, for a request no backend saw and whose step never let it through.
    private static readonly EdgeDenial StepFailed =
        new(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "The edge could not process the request.") { Reason = "edge_pipeline_error:step_failed" };

    public string StepName { get; } = stepName;

    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode != StatusCodes.Status200OK || http.Response.HasStarted)
        {
            return ValueTask.CompletedTask;
        }

        var request = http.GetEdgeRequest();
        if (request is null)
        {
            // Defensive: the edge middleware creates this for every proxied request.
            return new ValueTask(decisions.DenyAsync(http, StepName, PipelineMisconfigured));
        }

        // Most steps decide synchronously (a cached token, a lease token, a role check): then no async state machine
        // runs for the step, only for a step that really waits (a Redis call, a JWKS fetch, a body read).
        ValueTask<EdgeStepResult> pending;
        try
        {
            pending = step.InvokeAsync(new EdgeStepContext(context, request));
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            return new ValueTask(FailAsync(http, ex));
        }
        catch (Exception)
        {
            LeftDuringStep(http);
            return ValueTask.CompletedTask;
        }

        return pending.IsCompletedSuccessfully
            ? Complete(http, request, pending.Result)
            : CompleteAsync(http, request, pending);
    }

    // Pooled: every step that waits (a strict rate-limit decision, a lease claim, a webhook) comes through here.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteAsync(HttpContext http, EdgeRequestFeature request, ValueTask<EdgeStepResult> pending)
    {
        EdgeStepResult result;
        try
        {
            result = await pending;
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await FailAsync(http, ex);
            return;
        }
        catch (Exception)
        {
            LeftDuringStep(http);
            return;
        }

        await Complete(http, request, result);
    }

    /// <summary>
    /// The client went away while the step waited (a key fetch, a Redis call): nothing is answered, and the record says
    /// the step never let the request through. Left to YARP it was a 499 recorded as <c>allow</c>, as if every step had passed.
    /// </summary>
    private void LeftDuringStep(HttpContext http) =>
        decisions.DenyUnanswered(http, StepName, EdgeBodyBufferingTransform.ClientClosedRequest, EdgeRequestMiddleware.ClientAbortedCode);

    private Task FailAsync(HttpContext http, Exception exception)
    {
        if (logger.IsEnabled(LogLevel.Error) && failedLog.TryTake(time, out var unlogged))
        {
            Log.StepFailed(logger, exception, StepName, http.GetEdgeRequest()?.RouteId, unlogged);
        }

        return decisions.DenyAsync(http, StepName, StepFailed);
    }

    private ValueTask Complete(HttpContext http, EdgeRequestFeature request, EdgeStepResult result)
    {
        if (result.Denial is { } denial)
        {
            return new ValueTask(decisions.DenyAsync(http, StepName, denial));
        }

        decisions.Allow(http, StepName);
        return threat.CheckAfterStep(http, request) is { } blocked
            ? new ValueTask(decisions.DenyAsync(http, IEdgeThreatGate.StepName, blocked))
            : ValueTask.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Error, "Step {Step} failed on route {Route}; answered 500 edge_pipeline_error; {Unlogged} more failures of this step since the previous such line (at most one a minute; edge_requests_total and the audit records count them all)")]
        public static partial void StepFailed(ILogger logger, Exception exception, string step, string? route, long unlogged);
    }
}
