using Edge.Proxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Implemented by step factories whose steps read the raw request body (signature checks, body-keyed rate limits).
/// The body must be buffered by a proxy-pipeline middleware before the forwarder captures <c>Request.Body</c>, so the
/// middleware asks each step of the route whether it needs it.
/// </summary>
public interface IEdgeBodyRequirement
{
    /// <summary>True when a step with these options reads the body.</summary>
    bool RequiresBody(IReadOnlyDictionary<string, string> values, EdgeSection edge);
}
