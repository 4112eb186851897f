namespace Edge.Proxy.Pipeline;

/// <summary>
/// Receives the decision of every request on an edge route, allowed or denied. Defined here, where the request
/// middleware calls it, and implemented by Auditing, which builds the record from the request's features.
/// </summary>
internal interface IAuditSink
{
    /// <summary>
    /// Called before any step runs. False means the record could not be written, so the route must not run:
    /// the request is answered 503 (audit-required routes only; optional routes are always admitted). A sink that
    /// found room marks <see cref="EdgeRequestFeature.RecordAdmitted"/>, and then keeps the record whatever came in between.
    /// </summary>
    bool CanAdmit(HttpContext context, EdgeRequestFeature request) => true;

    /// <summary>
    /// Called exactly once per request, when the response starts (before the client can see it) or, when no
    /// response was started, at the end. Completes once the record is durable.
    /// </summary>
    ValueTask RecordAsync(HttpContext context, EdgeRequestFeature request);
}
