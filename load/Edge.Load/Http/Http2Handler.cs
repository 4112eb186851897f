using System.Net;

namespace Edge.Load.Http;

/// <summary>
/// Sets every request to HTTP/2, whatever version the scenario built it with: exact on http:// (h2c with prior
/// knowledge, the only cleartext HTTP/2 .NET speaks), or lower on https:// (ALPN offers h2 and http/1.1, and the server chooses).
/// </summary>
internal sealed class Http2Handler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Version = HttpVersion.Version20;
        request.VersionPolicy = request.RequestUri?.Scheme == Uri.UriSchemeHttps ? HttpVersionPolicy.RequestVersionOrLower : HttpVersionPolicy.RequestVersionExact;
        return base.SendAsync(request, cancellationToken);
    }
}
