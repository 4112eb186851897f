using Edge.Proxy.Configuration;
using Microsoft.AspNetCore.Routing.Matching;

namespace Edge.Proxy.Observability;

/// <summary>
/// Makes management endpoints exist only for connections accepted on a management port. Decided by the connection's
/// local port, never by <c>Host</c>: the client controls that header (and the request target's authority), so
/// <c>RequireHost("*:9901")</c> let <c>Host: x:9901</c> reach /edge/status and /metrics through the proxy port.
/// On the proxy port the endpoint is simply not a candidate, so the path is routed as if it were not mapped
/// (a catch-all proxy route still forwards it; otherwise 404).
/// </summary>
internal sealed class ManagementPortMatcherPolicy(ManagementUrls managementUrls) : MatcherPolicy, IEndpointSelectorPolicy
{
    // Before HostMatcherPolicy and the HTTP method policy, so nothing else looks at a candidate this port cannot serve.
    public override int Order => -2000;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<ManagementEndpointMarker>() is not null)
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        if (managementUrls.Ports.Contains(httpContext.Connection.LocalPort))
        {
            return Task.CompletedTask;
        }

        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Endpoint.Metadata.GetMetadata<ManagementEndpointMarker>() is not null)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
