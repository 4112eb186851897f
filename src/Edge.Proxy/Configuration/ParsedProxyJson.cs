using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>proxy.json after parsing, before validation.</summary>
internal sealed record ParsedProxyJson(IReadOnlyList<RouteConfig> Routes, IReadOnlyList<ClusterConfig> Clusters, EdgeSection Edge, string ContentHash);
