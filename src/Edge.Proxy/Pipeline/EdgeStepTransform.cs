using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Runs one edge step as a YARP request transform. YARP runs every request transform in order and only then checks
/// whether a response was set, so a step after a denial must not run. After a step lets a request through, ban rules
/// keyed on what it found (a tenant, a principal) are checked before the next step runs.
/// </summary>
internal sealed class EdgeStepTransform(string stepName, IEdgeStep step, EdgeDecisions decisions, IEdgeThreatGate threat) : RequestTransform
{
    private static readonly EdgeDenial PipelineMisconfigured =
        new(StatusCodes.Status500InternalServerError, "edge_pipeline_error", "The edge pipeline is misconfigured.");

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
        var pending = step.InvokeAsync(new EdgeStepContext(context, request));
        return pending.IsCompletedSuccessfully
            ? Complete(http, request, pending.Result)
            : CompleteAsync(http, request, pending);
    }

    // Pooled: every step that waits (a strict rate-limit decision, a lease claim, a webhook) comes through here.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteAsync(HttpContext http, EdgeRequestFeature request, ValueTask<EdgeStepResult> pending) =>
        await Complete(http, request, await pending);

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
}
