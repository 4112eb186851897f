using Edge.Proxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Implemented by step factories whose steps read the raw request body (signature checks, body-keyed rate limits).
/// The body must be buffered by <see cref="EdgeBodyBufferingMiddleware"/> before the forwarder captures
/// <c>Request.Body</c>, so the middleware asks each step of the route what it needs.
/// </summary>
internal interface IEdgeBodyRequirement
{
    /// <summary>What a step with these options needs of the body, or null when it does not read it.</summary>
    EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge);
}
