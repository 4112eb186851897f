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

    public override async ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode != StatusCodes.Status200OK || http.Response.HasStarted)
        {
            return;
        }

        var request = http.GetEdgeRequest();
        if (request is null)
        {
            // Defensive: the edge middleware creates this for every proxied request.
            await decisions.DenyAsync(http, StepName, PipelineMisconfigured);
            return;
        }

        var result = await step.InvokeAsync(new EdgeStepContext(context, request));
        if (result.Denial is { } denial)
        {
            await decisions.DenyAsync(http, StepName, denial);
            return;
        }

        decisions.Allow(http, StepName);
        if (threat.CheckAfterStep(http, request) is { } blocked)
        {
            await decisions.DenyAsync(http, IEdgeThreatGate.StepName, blocked);
        }
    }
}
