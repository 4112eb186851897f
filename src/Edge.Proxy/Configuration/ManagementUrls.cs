using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Edge.Proxy.Configuration;

/// <summary>
/// The management listener. Requests are told apart from proxy traffic by local port, so the port must be explicit.
/// </summary>
internal sealed record ManagementUrls(IReadOnlyList<string> Urls, IReadOnlySet<int> Ports)
{
    public static ManagementUrls Parse(string value)
    {
        var urls = value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0)
        {
            throw new InvalidOperationException("Edge:ManagementUrls is empty; set at least one URL such as http://127.0.0.1:9901.");
        }

        var ports = new HashSet<int>();
        foreach (var url in urls)
        {
            var normalized = url.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
            // Uri fills in the scheme's default port: http://127.0.0.1 listened on port 80, which the docs promise is refused.
            if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Port <= 0 || !HasExplicitPort(normalized))
            {
                throw new InvalidOperationException($"Edge:ManagementUrls entry '{url}' must be an absolute URL with an explicit, non-zero port.");
            }

            ports.Add(uri.Port);
        }

        return new ManagementUrls(urls, ports);
    }

    /// <summary>
    /// Keeps HTTP/1.1 on the management listener. <c>Kestrel:EndpointDefaults:Protocols=Http2</c>, the way to serve h2c
    /// on the proxy port, applies to every listener: the management port became HTTP/2-only and answered the HTTP/1.1
    /// requests of health probes and metric scrapers with 400.
    /// </summary>
    public void KeepHttp1(ListenOptions listen)
    {
        if (listen.IPEndPoint is { } endpoint && Ports.Contains(endpoint.Port) && !listen.Protocols.HasFlag(HttpProtocols.Http1))
        {
            listen.Protocols = listen.Protocols | HttpProtocols.Http1;
        }
    }

    private static bool HasExplicitPort(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = url.IndexOfAny(['/', '?', '#'], start);
        var authority = end < 0 ? url[start..] : url[start..end];
        var colon = authority.LastIndexOf(':');
        return colon > authority.LastIndexOf(']') && colon < authority.Length - 1 && authority[(colon + 1)..].All(char.IsAsciiDigit);
    }
}
