namespace Edge.Proxy.Pipeline;

/// <summary>
/// Threat protection as the pipeline sees it: the ban check before the steps and after each one, and the counting of
/// every refusal (<see cref="EdgeDecisions"/>). Implemented by <c>ThreatProtection/ThreatMonitor</c>.
/// </summary>
internal interface IEdgeThreatGate
{
    /// <summary>The deciding step of a request refused because its client is banned.</summary>
    const string StepName = "threat";

    EdgeDenial? CheckBeforeSteps(HttpContext http, EdgeRequestFeature request);

    EdgeDenial? CheckAfterStep(HttpContext http, EdgeRequestFeature request);

    ValueTask ObserveAsync(HttpContext http, string step, EdgeDenial denial);
}
