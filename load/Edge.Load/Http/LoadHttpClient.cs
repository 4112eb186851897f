using System.Net;

namespace Edge.Load.Http;

/// <summary>The one pooled client a run shares, tuned so the generator is not the bottleneck.</summary>
public static class LoadHttpClient
{
    public static HttpClient Create(TimeSpan requestTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            // Reuse connections; recycle them now and then so DNS and load-balancer changes are seen.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = int.MaxValue,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = requestTimeout };
    }
}
