using Edge.Proxy.Configuration;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Implemented by step factories whose steps read the raw request body (signature checks, body-keyed rate limits).
/// <see cref="EdgeBodyBufferingTransform"/> buffers the body just before the first such step of a route (the steps before
/// it decide on the headers alone), under a cap made from what every step of the route declares here.
/// </summary>
internal interface IEdgeBodyRequirement
{
    /// <summary>What a step with these options needs of the body, or null when it does not read it.</summary>
    EdgeBodyRequirement? GetBodyRequirement(IReadOnlyDictionary<string, string> values, EdgeSection edge);
}
