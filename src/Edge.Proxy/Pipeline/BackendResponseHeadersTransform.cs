using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;

namespace Edge.Proxy.Pipeline;

/// <summary>
/// Keeps the backend's own address and software out of the answer the client gets. A legacy backend builds an absolute
/// <c>Location</c> from the <c>Host</c> it received, which is the destination's address (YARP sends it by default), so
/// its redirect pointed the client at <c>http://10.0.3.7:8080/login</c>: a leak of the internal address, and a redirect
/// the client cannot follow (or, worse, one that bypasses the edge when it can). As nginx's <c>proxy_redirect default</c>
/// does, a <c>Location</c> on the destination's origin becomes origin-relative (<c>/login</c>), which the client resolves
/// against the URL it asked the edge for. <c>Server</c>, <c>X-Powered-By</c>, <c>X-AspNet-Version</c> and
/// <c>X-AspNetMvc-Version</c> name the backend's software and version for an attacker to look up; Envoy overwrites
/// <c>Server</c> by default, and so does the edge (Kestrel writes its own).
/// </summary>
internal sealed class BackendResponseHeadersTransform : ResponseTransform
{
    public static readonly BackendResponseHeadersTransform Instance = new();

    private static readonly string[] SoftwareHeaders = [HeaderNames.Server, "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version"];

    public override ValueTask ApplyAsync(ResponseTransformContext context)
    {
        if (context.ProxyResponse is not { } response)
        {
            return ValueTask.CompletedTask;
        }

        var headers = context.HttpContext.Response.Headers;
        foreach (var name in SoftwareHeaders)
        {
            headers.Remove(name);
        }

        if (headers.Location is [{ } location] && response.RequestMessage is { RequestUri: { } destination } request
            && OnBackendOrigin(location, destination, request.Headers.Host) is { } relative)
        {
            headers.Location = relative;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The path, query and fragment of <paramref name="location"/> when it names the origin the request was sent to.</summary>
    private static string? OnBackendOrigin(string location, Uri destination, string? sentHost)
    {
        // A network-path reference (//10.0.3.7:8080/login) keeps the request's scheme.
        var absolute = location.StartsWith("//", StringComparison.Ordinal) ? destination.Scheme + ":" + location : location;
        if (!Uri.TryCreate(absolute, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return null;
        }

        var sameOrigin = string.Equals(uri.Scheme, destination.Scheme, StringComparison.OrdinalIgnoreCase)
            && (string.Equals(uri.Authority, destination.Authority, StringComparison.OrdinalIgnoreCase)
                || (sentHost is not null && string.Equals(uri.Authority, sentHost, StringComparison.OrdinalIgnoreCase)));
        return sameOrigin ? uri.PathAndQuery + uri.Fragment : null;
    }
}
