namespace Edge.Proxy.Observability;

/// <summary>Endpoint metadata marking management endpoints, which the proxy port never serves.</summary>
internal sealed class ManagementEndpointMarker
{
    public static readonly ManagementEndpointMarker Instance = new();
}
