namespace Edge.Proxy.Observability;

/// <summary>
/// Endpoint metadata: this management endpoint (/edge/status, the bans API) needs the bearer token when
/// <c>Edge:ManagementToken</c> is set; probes and scrapers (/healthz, /readyz, /metrics) carry no such marker.
/// </summary>
internal sealed class ManagementTokenRequired
{
    public static readonly ManagementTokenRequired Instance = new();
}
