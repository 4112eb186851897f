using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Runs a body-reading step's header-only check (<see cref="IEdgeHeaderCheck"/>) as the request transform before the
/// body is buffered for it. A refusal here is the step's own (same step name, code and audit fields); a request it lets
/// through still gets the whole step after its body is read.
/// </summary>
internal sealed class EdgeHeaderCheckTransform(string stepName, IEdgeHeaderCheck check, EdgeDecisions decisions) : RequestTransform
{
    public override ValueTask ApplyAsync(RequestTransformContext context)
    {
        var http = context.HttpContext;

        // YARP runs every request transform, also after a step refused.
        if (http.Response.StatusCode != StatusCodes.Status200OK || http.Response.HasStarted || http.GetEdgeRequest() is not { } request)
        {
            return ValueTask.CompletedTask;
        }

        return check.CheckHeaders(new EdgeStepContext(context, request)).Denial is { } denial
            ? new ValueTask(decisions.DenyAsync(http, stepName, denial))
            : ValueTask.CompletedTask;
    }
}
