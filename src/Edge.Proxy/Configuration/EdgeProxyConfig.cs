using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace Edge.Proxy.Configuration;

/// <summary>A validated proxy.json snapshot: YARP's routes and clusters plus the Edge section.</summary>
internal sealed class EdgeProxyConfig : IProxyConfig
{
    private readonly CancellationTokenSource _changed = new();

    public EdgeProxyConfig(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, EdgeSection edge, string contentHash, long revision)
    {
        Routes = routes;
        Clusters = clusters;
        Edge = edge;
        ContentHash = contentHash;
        Revision = revision;
        ChangeToken = new CancellationChangeToken(_changed.Token);
    }

    public IReadOnlyList<RouteConfig> Routes { get; }

    public IReadOnlyList<ClusterConfig> Clusters { get; }

    public EdgeSection Edge { get; }

    public string ContentHash { get; }

    /// <summary>Of the Edge section and of what it read from other files (secret values, schemas): what a reload of the same proxy.json may change.</summary>
    public string PolicyHash { get; init; } = "";

    public long Revision { get; }

    public string RevisionId => $"{Revision}-{ContentHash[..12]}";

    public IChangeToken ChangeToken { get; }

    /// <summary>Tells YARP this snapshot is superseded so it fetches the new one.</summary>
    public void SignalSuperseded() => _changed.Cancel();
}
