using Edge.Proxy.Observability;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// The one place a request's decision is recorded: the deciding step and reason on <see cref="EdgeRequestFeature"/>
/// (what the audit record shows), the step-decision metric, and for a denial the answer (problem+json, or the step's own
/// body). The ordered steps, body buffering, the request middleware and the route rate-limiter policy all call it, so it
/// is also where ban rules count denials (<see cref="IEdgeThreatGate"/>; absent when a plain ASP.NET Core app uses the
/// route rate-limiter policy without the edge).
/// </summary>
internal sealed class EdgeDecisions(EdgeMetrics metrics, IEdgeThreatGate? threat = null)
{
    public void Allow(HttpContext context, string step)
    {
        if (context.GetEdgeRequest() is { } request)
        {
            metrics.StepDecision(request.RouteId ?? "", step, "allow", null);
        }
    }

    /// <summary>Records the denial, counts it for the ban rules that name its event, and writes its answer.</summary>
    public async Task DenyAsync(HttpContext context, string step, EdgeDenial denial)
    {
        Record(context, step, denial.Reason ?? denial.Code);

        // Counted before the answer: a ban this denial starts is in force (and published) before the client can send
        // its next request, on every instance.
        if (threat is not null)
        {
            await threat.ObserveAsync(context, step, denial);
        }

        await ProblemDetailsWriter.WriteAsync(context, denial);
    }

    /// <summary>
    /// Records a denial the pipeline writes no answer for: the client is gone (<paramref name="status"/> is what the audit
    /// record shows, never a status the client received), or Kestrel refused the request before any middleware ran and
    /// answers it itself (<see cref="ParserRejections"/>).
    /// </summary>
    public void DenyUnanswered(HttpContext context, string step, int status, string reason)
    {
        context.Response.StatusCode = status;
        Record(context, step, reason);
    }

    private void Record(HttpContext context, string step, string reason)
    {
        if (context.GetEdgeRequest() is not { } request)
        {
            // A route policy used by a plain ASP.NET Core app (no edge middleware): there is no edge decision to record.
            return;
        }

        request.Deny(step, reason);
        metrics.StepDecision(request.RouteId ?? "", step, "deny", reason);
    }
}
