using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>proxy.json after parsing, before validation.</summary>
public sealed record ParsedProxyJson(IReadOnlyList<RouteConfig> Routes, IReadOnlyList<ClusterConfig> Clusters, EdgeSection Edge, string ContentHash);
