using System.Globalization;
using System.Net;

namespace Edge.Load.Http;

/// <summary>The one pooled client a run shares, tuned so the generator is not the bottleneck.</summary>
public static class LoadHttpClient
{
    /// <summary>
    /// With <paramref name="http2"/>, every request asks for HTTP/2: h2c with prior knowledge on http:// (there is no
    /// upgrade), ALPN on https:// (HTTP/1.1 when the server does not offer h2; the report counts such responses).
    /// </summary>
    public static HttpClient Create(TimeSpan requestTimeout, bool http2 = false) => Create(requestTimeout, DefaultMaxConnectionsPerServer(), http2);

    internal static HttpClient Create(TimeSpan requestTimeout, int maxConnectionsPerServer, bool http2 = false)
    {
        HttpMessageHandler handler = CreateHandler(maxConnectionsPerServer);
        return new(http2 ? new Http2Handler(handler) : handler, disposeHandler: true) { Timeout = requestTimeout };
    }

    internal static SocketsHttpHandler CreateHandler(int maxConnectionsPerServer, System.Net.Security.RemoteCertificateValidationCallback? validateServerCertificate = null) => new()
    {
        SslOptions = { RemoteCertificateValidationCallback = validateServerCertificate },
        // Reuse connections; recycle them now and then so DNS and load-balancer changes are seen.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        MaxConnectionsPerServer = maxConnectionsPerServer,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        EnableMultipleHttp2Connections = true,
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
    };

    /// <summary>
    /// Below the process's open-file limit. An open model opens a connection for every request that finds none idle,
    /// so above the target's (or the generator's) capacity it used up every file descriptor; the runtime then could not
    /// start a thread (its pipe2 failed with EMFILE) and aborted with "Out of memory." and no report
    /// (inject:rate=20000 against the bench backend on 2 cores). At the cap, requests wait for a connection, measured
    /// from their intended send time, and end as a timeout if none frees up.
    /// </summary>
    internal static int DefaultMaxConnectionsPerServer() => ConnectionCap(OpenFileLimit());

    /// <summary>The limit less a reserve for everything else the process opens (threads, the report files, the runtime).</summary>
    internal static int ConnectionCap(long? openFileLimit) => openFileLimit is { } limit
        ? (int)Math.Clamp(limit - Math.Max(256, limit / 10), 16, int.MaxValue)
        : int.MaxValue;

    /// <summary>The soft RLIMIT_NOFILE from /proc/self/limits; null where there is none to read or it is unlimited.</summary>
    internal static long? OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    return long.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not Linux: no cap, as before.
        }

        return null;
    }
}
