using Yarp.ReverseProxy.Configuration;

namespace Edge.Configuration;

/// <summary>The JSON shape of proxy.json: YARP's own <c>ReverseProxy</c> schema plus the <c>Edge</c> section.</summary>
internal sealed record ProxyJsonDocument
{
    public ReverseProxySection? ReverseProxy { get; init; }

    public EdgeSection? Edge { get; init; }

    internal sealed record ReverseProxySection
    {
        public Dictionary<string, RouteConfig>? Routes { get; init; }

        public Dictionary<string, ClusterConfig>? Clusters { get; init; }
    }
}
